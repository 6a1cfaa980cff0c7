import CLibPQ

/// The rows of one result, copied out of libpq's PGresult so it can cross tasks freely.
public struct PQRows: Sendable, RandomAccessCollection {
    public struct Column: Sendable {
        public var name: String
        public var type: UInt32
    }

    public let columns: [Column]
    /// Rows affected by INSERT / UPDATE / DELETE (or returned by SELECT).
    public let affectedRows: Int
    /// The command tag, e.g. "INSERT 0 1".
    public let commandTag: String
    let storage: [UInt8]
    /// For each cell: offset into storage and length, or length -1 for NULL.
    let cells: [(offset: Int32, length: Int32)]
    public let count: Int

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(position: Int) -> PQRow { PQRow(rows: self, index: position) }

    init(result: OpaquePointer) {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columns: [Column] = []
        columns.reserveCapacity(columnCount)
        for c in 0..<columnCount {
            let name = String(cString: PQfname(result, Int32(c)))
            columns.append(Column(name: name, type: UInt32(PQftype(result, Int32(c)))))
        }
        var storage: [UInt8] = []
        var cells: [(offset: Int32, length: Int32)] = []
        cells.reserveCapacity(rowCount * columnCount)
        for r in 0..<Int32(rowCount) {
            for c in 0..<Int32(columnCount) {
                if PQgetisnull(result, r, c) == 1 {
                    cells.append((0, -1))
                    continue
                }
                let length = PQgetlength(result, r, c)
                let offset = Int32(storage.count)
                if length > 0, let value = PQgetvalue(result, r, c) {
                    value.withMemoryRebound(to: UInt8.self, capacity: Int(length)) { pointer in
                        storage.append(contentsOf: UnsafeBufferPointer(start: pointer, count: Int(length)))
                    }
                }
                cells.append((offset, length))
            }
        }
        let tag = String(cString: PQcmdStatus(result))
        let tuples = String(cString: PQcmdTuples(result))
        self.columns = columns
        self.storage = storage
        self.cells = cells
        self.count = rowCount
        self.commandTag = tag
        self.affectedRows = Int(tuples) ?? rowCount
    }

    /// The first row, or nil when there is none.
    public var firstRow: PQRow? { isEmpty ? nil : self[0] }

    /// Decodes the single column of every row.
    public func column<T: PQDecodable>(_ type: T.Type = T.self) throws -> [T] {
        try map { try $0.decode(type, at: 0) }
    }
}

/// One row of a result; values are decoded by column position or name.
public struct PQRow: Sendable {
    let rows: PQRows
    public let index: Int

    public var columns: [PQRows.Column] { rows.columns }

    public func decode<T: PQDecodable>(_ type: T.Type = T.self, at column: Int) throws -> T {
        guard column >= 0, column < rows.columns.count else {
            throw PQError(.decoding, "the result has \(rows.columns.count) columns, there is no column \(column)")
        }
        let info = rows.columns[column]
        let cell = rows.cells[index * rows.columns.count + column]
        do throws(PQDecodingFailure) {
            if cell.length < 0 { return try T.pqDecodeNull() }
            if let accepted = T.pqAcceptedTypes, !accepted.contains(info.type),
               !(T.pqAcceptedTypes?.contains(PQType.text) == true && info.type >= 16384) {
                throw PQDecodingFailure("has type \(PQType.name(of: info.type)), which does not decode as \(T.self)")
            }
            let result = rows.storage.withUnsafeBytes { storage in
                let bytes = UnsafeRawBufferPointer(rebasing: storage[Int(cell.offset)..<Int(cell.offset + cell.length)])
                return Result { () throws(PQDecodingFailure) in try T.pqDecode(bytes, type: info.type) }
            }
            return try result.get()
        } catch {
            throw PQError(.decoding, "column \"\(info.name)\" \(error.reason)", column: info.name)
        }
    }

    public func decode<T: PQDecodable>(_ type: T.Type = T.self, column name: String) throws -> T {
        // Results have few columns: a scan beats building a dictionary for every result.
        guard let position = rows.columns.firstIndex(where: { $0.name == name }) else {
            throw PQError(.decoding, "the result has no column \"\(name)\" (columns: \(rows.columns.map(\.name).joined(separator: ", ")))")
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

    public func isNull(at column: Int) -> Bool {
        rows.cells[index * rows.columns.count + column].length < 0
    }
}
