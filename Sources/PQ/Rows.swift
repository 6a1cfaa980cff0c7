import CLibPQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The rows of one result. libpq's PGresult is read-only once made and may be read from any
/// thread, so the rows keep it (freed with the last copy) instead of copying every value out.
public struct PQRows: Sendable, RandomAccessCollection {
    public struct Column: Sendable {
        public var name: String
        public var type: UInt32
    }

    let result: PGResultOwner
    public let count: Int
    let columnCount: Int32

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(position: Int) -> PQRow { PQRow(rows: self, index: position) }

    /// Takes ownership of `result` (PQclear runs when the last copy of the rows goes).
    init(taking result: OpaquePointer) {
        self.result = PGResultOwner(raw: result)
        self.count = Int(PQntuples(result))
        self.columnCount = PQnfields(result)
    }

    public var columns: [Column] {
        (0..<columnCount).map {
            Column(name: String(cString: PQfname(result.raw, $0)), type: UInt32(PQftype(result.raw, $0)))
        }
    }

    /// Rows affected by INSERT / UPDATE / DELETE (or returned by SELECT).
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(result.raw))) ?? count }

    /// The command tag, e.g. "INSERT 0 1".
    public var commandTag: String { String(cString: PQcmdStatus(result.raw)) }

    /// The first row, or nil when there is none.
    public var firstRow: PQRow? { isEmpty ? nil : self[0] }

    /// Decodes the single column of every row.
    public func column<T: PQDecodable>(_ type: T.Type = T.self) throws -> [T] {
        try map { try $0.decode(type, at: 0) }
    }
}

/// Owns one PGresult. Only libpq's read functions touch it after it is made, which libpq allows
/// from any thread.
final class PGResultOwner: @unchecked Sendable {
    let raw: OpaquePointer
    init(raw: OpaquePointer) { self.raw = raw }
    deinit { PQclear(raw) }
}

/// One row of a result; values are decoded by column position or name.
public struct PQRow: Sendable {
    let rows: PQRows
    public let index: Int

    public var columns: [PQRows.Column] { rows.columns }

    public func decode<T: PQDecodable>(_ type: T.Type = T.self, at column: Int) throws -> T {
        let result = rows.result.raw
        guard column >= 0, column < Int(rows.columnCount) else {
            throw PQError(.decoding, "the result has \(rows.columnCount) columns, there is no column \(column)")
        }
        let row = Int32(index), field = Int32(column)
        let type = UInt32(PQftype(result, field))
        do throws(PQDecodingFailure) {
            if PQgetisnull(result, row, field) == 1 { return try T.pqDecodeNull() }
            if !T.pqAccepts(type) {
                throw PQDecodingFailure("has type \(PQType.name(of: type)), which does not decode as \(T.self)")
            }
            let bytes = UnsafeRawBufferPointer(
                start: PQgetvalue(result, row, field), count: Int(PQgetlength(result, row, field)))
            return try T.pqDecode(bytes, type: type)
        } catch {
            let name = String(cString: PQfname(result, field))
            throw PQError(.decoding, "column \"\(name)\" \(error.reason)", column: name)
        }
    }

    public func decode<T: PQDecodable>(_ type: T.Type = T.self, column name: String) throws -> T {
        // Results have few columns: a scan beats building a dictionary for every result.
        let result = rows.result.raw
        let found = name.withCString { wanted in
            (0..<rows.columnCount).first { strcmp(PQfname(result, $0), wanted) == 0 }
        }
        guard let position = found.map(Int.init) else {
            throw PQError(
                .decoding,
                "the result has no column \"\(name)\" (columns: \(rows.columns.map(\.name).joined(separator: ", ")))")
        }
        return try decode(type, at: position)
    }

    public subscript<T: PQDecodable>(_ name: String, as type: T.Type = T.self) -> T {
        get throws { try decode(type, column: name) }
    }

    /// Decodes the leading columns as a tuple: `let (id, name) = try row.decode(UUID.self, String.self)`.
    public func decode<each T: PQDecodable>(_ types: repeat (each T).Type) throws -> (repeat each T) {
        var position = 0
        func next<U: PQDecodable>(_ type: U.Type) throws -> U {
            defer { position += 1 }
            return try decode(type, at: position)
        }
        return (repeat try next(each types))
    }
}
