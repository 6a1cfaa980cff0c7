/// JSON text by hand, for the shapes common enough to be worth it: event payloads (PQ's PQJSON),
/// and the API's hand-written answers (CareAPI's JSONWriter) use `string`. The output is what PQJSON's
/// encoder writes (sorted keys, slashes unescaped).
public enum JSONText {
    public static func object(_ strings: [String: String]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(16 + strings.count * 48)
        for (index, key) in strings.keys.sorted().enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(key, into: &bytes)
            bytes.append(UInt8(ascii: ":"))
            string(strings[key]!, into: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A JSON string: quotes, backslashes and control characters escaped, the rest as UTF-8.
    public static func string(_ text: String, into bytes: inout [UInt8]) {
        bytes.append(34)
        escaped(text, into: &bytes)
        bytes.append(34)
    }

    /// A string's characters as they go between a JSON string's quotes (for a string written in
    /// parts, such as a base URL and an id).
    public static func escaped(_ text: String, into bytes: inout [UInt8]) {
        // Most strings (ids, codes, URLs, times) need no escape: copied whole.
        var text = text
        let copied = text.withUTF8 { units in
            guard !units.contains(where: { $0 < 32 || $0 == 34 || $0 == 92 }) else { return false }
            bytes.append(contentsOf: units)
            return true
        }
        if copied { return }
        for unit in text.utf8 {
            switch unit {
            case 34: bytes.append(92); bytes.append(34)
            case 92: bytes.append(92); bytes.append(92)
            case 10: bytes.append(92); bytes.append(110)
            case 13: bytes.append(92); bytes.append(114)
            case 9: bytes.append(92); bytes.append(116)
            case 8: bytes.append(92); bytes.append(98)
            case 12: bytes.append(92); bytes.append(102)
            case 0..<32:
                bytes.append(contentsOf: [92, 117, 48, 48, Hex.digits[Int(unit >> 4)], Hex.digits[Int(unit & 15)]])
            default: bytes.append(unit)
            }
        }
    }
}
