import Foundation

// MARK: - Arrays (one dimension)

extension Array: PQEncodable where Element: PQEncodable {
    /// The text form, `{"a","b \\"c\\"",NULL}`, written as UTF-8 bytes: `"` and `\\` are ASCII, and
    /// no byte of a multi-byte UTF-8 sequence is, so escaping byte by byte is exact. (Appending
    /// scalar by scalar to a String cost 9% of care-server's CPU on a queue read, whose audit
    /// entries take the page's 50 patient ids as one array: BENCHMARKS.md, session 13.)
    public func pqEncode() throws -> String? {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(2 + count * 40)
        bytes.append(UInt8(ascii: "{"))
        for (index, element) in enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard var item = try element.pqEncode() else {
                bytes.append(contentsOf: "NULL".utf8)
                continue
            }
            bytes.append(quote)
            item.withUTF8 { utf8 in
                if !utf8.contains(where: { $0 == quote || $0 == backslash }) {
                    bytes.append(contentsOf: utf8)
                    return
                }
                for byte in utf8 {
                    if byte == quote || byte == backslash { bytes.append(backslash) }
                    bytes.append(byte)
                }
            }
            bytes.append(quote)
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Array: PQDecodable where Element: PQDecodable {
    public static func pqAccepts(_ oid: UInt32) -> Bool { PQType.arrayElements[oid] != nil }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> [Element] {
        let elementType = PQType.arrayElements[type] ?? PQType.unknown
        if elementType != PQType.unknown, !Element.pqAccepts(elementType) {
            throw PQDecodingFailure("has elements of type \(PQType.name(of: elementType)), not \(Element.self)")
        }
        // Text form: {a,"b c",NULL}; a dimension prefix like [0:1]= is not supported.
        guard bytes.first == UInt8(ascii: "{"), bytes.last == UInt8(ascii: "}") else {
            throw PQDecodingFailure("is not a one-dimensional array")
        }
        var result: [Element] = []
        var i = 1
        let end = bytes.count - 1
        if end == 1 { return [] }
        while i <= end {
            var item: [UInt8] = []
            var quoted = false
            if i < end, bytes[i] == UInt8(ascii: "{") { throw PQDecodingFailure("is a multi-dimensional array") }
            if i < end, bytes[i] == UInt8(ascii: "\"") {
                quoted = true
                i += 1
                while i < end, bytes[i] != UInt8(ascii: "\"") {
                    if bytes[i] == UInt8(ascii: "\\") { i += 1 }
                    if i < end { item.append(bytes[i]) }
                    i += 1
                }
                i += 1  // closing quote
            } else {
                while i < end, bytes[i] != UInt8(ascii: ",") { item.append(bytes[i]); i += 1 }
            }
            if !quoted, item == Array<UInt8>("NULL".utf8) {
                result.append(try Element.pqDecodeNull())
            } else {
                let element = item.withUnsafeBytes { buffer in
                    Result { () throws(PQDecodingFailure) in try Element.pqDecode(buffer, type: elementType) }
                }
                result.append(try element.get())
            }
            i += 1  // the comma, or past the end
        }
        return result
    }
}
