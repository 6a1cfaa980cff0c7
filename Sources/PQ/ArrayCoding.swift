import Foundation

// MARK: - Arrays (one dimension)

extension Array: PQEncodable where Element: PQEncodable {
    public func pqEncode() throws -> String? {
        var text = "{"
        for (index, element) in enumerated() {
            if index > 0 { text += "," }
            guard let item = try element.pqEncode() else { text += "NULL"; continue }
            text += "\""
            for scalar in item.unicodeScalars {
                if scalar == "\"" || scalar == "\\" { text += "\\" }
                text.unicodeScalars.append(scalar)
            }
            text += "\""
        }
        return text + "}"
    }
}

extension Array: PQDecodable where Element: PQDecodable {
    public static var pqAcceptedTypes: Set<UInt32>? { Set(PQType.arrayElements.keys) }
    public static func pqDecode(_ bytes: UnsafeRawBufferPointer, type: UInt32) throws(PQDecodingFailure) -> [Element] {
        let elementType = PQType.arrayElements[type] ?? PQType.unknown
        if let accepted = Element.pqAcceptedTypes, elementType != PQType.unknown,
            !accepted.contains(elementType)
        {
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
