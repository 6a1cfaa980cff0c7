import Foundation

extension UUID {
    /// 8-4-4-4-12 lower-case hex, as PostgreSQL and the API write a uuid. Written by hand:
    /// `uuidString` goes through `uuid_unparse` and sprintf, and ids are formatted for every
    /// statement and every answer.
    public var lowercasedString: String {
        withUnsafeBytes(of: uuid) { raw in
            String(unsafeUninitializedCapacity: 36) { buffer in
                var at = 0
                for (index, byte) in raw.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 { buffer[at] = UInt8(ascii: "-"); at += 1 }
                    buffer[at] = Hex.digits[Int(byte >> 4)]
                    buffer[at + 1] = Hex.digits[Int(byte & 0x0F)]
                    at += 2
                }
                return at
            }
        }
    }

    /// Reads the 8-4-4-4-12 hex form (either case); nil for anything else.
    public init?(hyphenated bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 36 else { return nil }
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let parsed = withUnsafeMutableBytes(of: &value) { out -> Bool in
            var at = 0
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    guard bytes[at] == UInt8(ascii: "-") else { return false }
                    at += 1
                }
                guard let high = Hex.value(bytes[at]), let low = Hex.value(bytes[at + 1]) else { return false }
                out[index] = high << 4 | low
                at += 2
            }
            return true
        }
        guard parsed else { return nil }
        self.init(uuid: value)
    }

    /// `init(hyphenated:)` for text.
    public init?(hyphenated text: some StringProtocol) {
        var text = String(text)
        guard let uuid = text.withUTF8({ UUID(hyphenated: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = uuid
    }

    /// A random (version 4) UUID from the system's generator (getrandom(2) on Linux, no file
    /// opened). Foundation's `UUID()` on Linux opens, reads and closes /dev/urandom for every
    /// id: three system calls and a file descriptor, several times for each recorded outcome.
    public static func random() -> UUID {
        var generator = SystemRandomNumberGenerator()
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &value) { bytes in
            bytes.storeBytes(of: generator.next() as UInt64, toByteOffset: 0, as: UInt64.self)
            bytes.storeBytes(of: generator.next() as UInt64, toByteOffset: 8, as: UInt64.self)
            bytes[6] = bytes[6] & 0x0F | 0x40  // version 4
            bytes[8] = bytes[8] & 0x3F | 0x80  // RFC 9562 variant
        }
        return UUID(uuid: value)
    }
}

/// An id that is written in lower case wherever it is encoded (JSON answers, printed
/// objects), as the API and PostgreSQL write ids; `value` is the UUID itself.
public struct LowercaseID: Encodable, Hashable, Sendable, CustomStringConvertible {
    public var value: UUID
    public init(_ value: UUID) { self.value = value }
    public var description: String { value.lowercasedString }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
