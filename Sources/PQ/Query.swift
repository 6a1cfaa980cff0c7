/// A SQL statement with its bound parameters. Interpolated values become `$n` parameters,
/// never text in the SQL:
///
///     let rows = try await conn.query("SELECT name FROM patients WHERE id = \(id)")
///
/// Identifiers that come from code (never from input) go in with `\(unescaped:)`.
public struct PQQuery: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public var sql: String
    public var binds: [any PQEncodable]

    public init(_ sql: String, _ binds: [any PQEncodable] = []) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(stringInterpolation.sql, stringInterpolation.binds)
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [any PQEncodable] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            binds.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        public mutating func appendInterpolation<Value: PQEncodable>(_ value: Value) {
            binds.append(value)
            sql += "$\(binds.count)"
        }

        /// An optional value: NULL when nil.
        public mutating func appendInterpolation<Value: PQEncodable>(_ value: Value?) {
            binds.append(value)
            sql += "$\(binds.count)"
        }

        /// A fragment built elsewhere (a condition, say): its `$n` are renumbered after ours.
        public mutating func appendInterpolation(fragment: PQQuery) {
            let offset = binds.count
            var result = ""
            var index = fragment.sql.startIndex
            let text = fragment.sql
            while index < text.endIndex {
                let character = text[index]
                if character == "$" {
                    var end = text.index(after: index)
                    while end < text.endIndex, text[end].isASCII, text[end].isNumber { end = text.index(after: end) }
                    if end > text.index(after: index), let number = Int(text[text.index(after: index)..<end]) {
                        result += "$\(number + offset)"
                        index = end
                        continue
                    }
                }
                result.append(character)
                index = text.index(after: index)
            }
            sql += result
            binds.append(contentsOf: fragment.binds)
        }

        /// Text that is written into the SQL as it is: only for identifiers from code.
        public mutating func appendInterpolation(unescaped text: String) {
            sql += text
        }
    }

    /// The parameters in libpq's text format.
    func encodedBinds() throws -> [String?] {
        try binds.map { try $0.pqEncode() }
    }

    public var description: String { sql }
}
