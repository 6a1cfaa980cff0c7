import CoreFormats
import CareWire
import Foundation

/// JSON written by hand, only where BENCHMARKS.md shows Foundation's JSONEncoder was most of the
/// cost; every other answer goes through `Wire`'s one Codable encoder. The exceptions, each
/// checked by a test to be the same document as its Codable encoding:
/// - the weekly report (`ReportJSON`): encoding was a fifth of the report's CPU at 5,000
///   patients (BENCHMARKS.md, "bench/report-scale", session 3);
/// - the trial outcome's answer (`OutcomeOut`, with `AdequacyOut` and `RuleInput`), the write
///   `bench/api-vs-pgbench` drives: with the other hand-written hot paths it took care-server's
///   CPU per write from 1.5–2.3 ms to 1.2–1.4 ms (BENCHMARKS.md, session 4);
/// - task pages and the task a status move answers (`TaskOut`, `ListPage<TaskOut>`), the read
///   that benchmark drives (BENCHMARKS.md, "session 4, later").
/// Writers put members in sorted key order and leave absent optionals out, as `Wire`'s encoders do.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    // MARK: Values

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// JSON already written (a value encoded on its own).
    mutating func raw(bytes json: [UInt8]) {
        bytes.append(contentsOf: json)
    }

    mutating func string(_ text: String) {
        JSONText.string(text, into: &bytes)
    }

    /// One JSON string written from two parts (a base URL and a path), without joining them first.
    mutating func string(_ head: String, _ tail: String) {
        bytes.append(34)
        JSONText.escaped(head, into: &bytes)
        JSONText.escaped(tail, into: &bytes)
        bytes.append(34)
    }

    /// Digits straight into the buffer (no String made for each number).
    mutating func int(_ value: Int) {
        if value < 0 { bytes.append(45) }
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var at = digits.count
            repeat {
                at -= 1
                digits[at] = 48 + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: digits[at...])
        }
    }
    mutating func day(_ value: Day) { string(value.text) }
    mutating func double(_ value: Double) { bytes.append(contentsOf: "\(value)".utf8) }
    mutating func bool(_ value: Bool) { value ? raw("true") : raw("false") }
    mutating func date(_ value: Date) { string(Wire.timestamp(value)) }

    /// Whether the object being written has no member yet (the innermost one: `object` keeps
    /// the outer object's flag while it writes an inner one).
    private var fresh = false

    /// An object whose members `body` writes with `member` and `optional`.
    mutating func object(_ body: (inout JSONWriter) -> Void) {
        bytes.append(123)
        let outer = fresh
        fresh = true
        body(&self)
        fresh = outer
        bytes.append(125)
    }

    /// Keys must come in sorted order (as the encoder's .sortedKeys writes them).
    mutating func member(_ key: StaticString, _ value: (inout JSONWriter) -> Void) {
        if fresh { fresh = false } else { bytes.append(44) }
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

    /// An array of `count` values, `each` writing the one at an index (for values kept in
    /// parallel arrays).
    mutating func array(count: Int, _ each: (inout JSONWriter, Int) -> Void) {
        bytes.append(91)
        for index in 0..<count {
            if index > 0 { bytes.append(44) }
            each(&self, index)
        }
        bytes.append(93)
    }

    mutating func array<T>(_ items: [T], _ each: (inout JSONWriter, T) -> Void) {
        bytes.append(91)
        // By index: the element is lent to `each`, not copied out of the array (a copy retains
        // every field of a large resource, and releases them after).
        for index in items.indices {
            if index > 0 { bytes.append(44) }
            each(&self, items[index])
        }
        bytes.append(93)
    }
}

/// An answer with a hand-written encoding; `Wire.json` prefers it to the Codable one.
protocol JSONWritable: Encodable {
    func write(to json: inout JSONWriter)
}
