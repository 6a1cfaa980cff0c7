import CoreFormats
import Foundation

/// JSON written by hand, for the answers where Foundation's JSONEncoder was most of the cost:
/// the weekly report (5,000 patients) and the busiest writes. Writers put members in sorted key
/// order and leave absent optionals out, as `Wire`'s encoders do; tests check that each
/// hand-written answer is the same document as its Codable encoding.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    // MARK: Values

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ text: String) {
        JSONText.string(text, into: &bytes)
    }

    mutating func int(_ value: Int) { bytes.append(contentsOf: String(value).utf8) }
    mutating func day(_ value: Day) { string(value.text) }
    mutating func double(_ value: Double) { bytes.append(contentsOf: "\(value)".utf8) }
    mutating func bool(_ value: Bool) { value ? raw("true") : raw("false") }
    mutating func date(_ value: Date) { string(Wire.timestamp(value)) }

    /// Whether the object being written has no member yet, innermost last.
    private var fresh: [Bool] = []

    /// An object whose members `body` writes with `member` and `optional`.
    mutating func object(_ body: (inout JSONWriter) -> Void) {
        bytes.append(123)
        fresh.append(true)
        body(&self)
        fresh.removeLast()
        bytes.append(125)
    }

    /// Keys must come in sorted order (as the encoder's .sortedKeys writes them).
    mutating func member(_ key: StaticString, _ value: (inout JSONWriter) -> Void) {
        if fresh[fresh.count - 1] { fresh[fresh.count - 1] = false } else { bytes.append(44) }
        bytes.append(34)
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(34)
        bytes.append(58)
        value(&self)
    }

    mutating func optional<T>(_ key: StaticString, _ value: T?, _ write: (inout JSONWriter, T) -> Void) {
        guard let value else { return }
        member(key) { write(&$0, value) }
    }

    mutating func array<T>(_ items: [T], _ each: (inout JSONWriter, T) -> Void) {
        bytes.append(91)
        for (index, item) in items.enumerated() {
            if index > 0 { bytes.append(44) }
            each(&self, item)
        }
        bytes.append(93)
    }
}

/// An answer with a hand-written encoding; `Wire.json` prefers it to the Codable one.
protocol JSONWritable: Encodable {
    func write(to json: inout JSONWriter)
}
