/// An error from the PQ layer: a server error with its diagnostics, a lost or refused
/// connection, a value that would not decode, or a pool that had no connection in time.
public struct PQError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// PostgreSQL answered with an error (see `sqlState`).
        case server
        /// The connection could not be made, or was lost during the call.
        case connection
        /// A column's value could not be decoded into the requested Swift type.
        case decoding
        /// A parameter could not be encoded.
        case encoding
        /// The pool had no free connection within its timeout.
        case poolTimeout
        /// The pool or connection was closed.
        case closed
        /// libpq reported something we did not expect.
        case protocolViolation
    }

    public var kind: Kind
    public var message: String
    public var sqlState: SQLState?
    public var severity: String?
    public var detail: String?
    public var hint: String?
    public var constraint: String?
    public var table: String?
    public var column: String?
    public var schema: String?
    public var dataType: String?

    public init(
        _ kind: Kind, _ message: String, sqlState: SQLState? = nil, severity: String? = nil,
        detail: String? = nil, hint: String? = nil, constraint: String? = nil, table: String? = nil,
        column: String? = nil, schema: String? = nil, dataType: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.severity = severity
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
        self.schema = schema
        self.dataType = dataType
    }

    public var description: String {
        var text = "\(kind.rawValue) error"
        if let sqlState { text += " \(sqlState)" }
        text += ": \(message)"
        if let detail { text += " (\(detail))" }
        if let constraint { text += " [constraint \(constraint)]" }
        return text
    }

    /// True when the connection it happened on can no longer be used.
    public var isConnectionFailure: Bool {
        kind == .connection || kind == .closed
            || sqlState.map {
                $0.classCode == "08" || $0 == .adminShutdown || $0 == .crashShutdown || $0 == .cannotConnectNow
            } == true
    }

    /// Serialization failure or deadlock: the transaction may succeed if run again.
    public var isRetryableTransactionFailure: Bool {
        sqlState == SQLState.serializationFailure || sqlState == SQLState.deadlockDetected
    }
}

/// A SQLSTATE code (PostgreSQL's appendix A): five characters, the first two its class.
/// Extensible: the codes CareRelay reacts to are named here, and any other the server sends is
/// kept as it came (`SQLState("XX001")`), never lost to a closed enum.
public struct SQLState: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }
    /// The class: "23" for integrity constraint violations, "08" for connection exceptions.
    public var classCode: String { String(rawValue.prefix(2)) }

    public static let uniqueViolation: SQLState = "23505"
    public static let foreignKeyViolation: SQLState = "23503"
    public static let checkViolation: SQLState = "23514"
    public static let notNullViolation: SQLState = "23502"
    public static let exclusionViolation: SQLState = "23P01"
    public static let serializationFailure: SQLState = "40001"
    public static let deadlockDetected: SQLState = "40P01"
    public static let insufficientPrivilege: SQLState = "42501"
    public static let undefinedTable: SQLState = "42P01"
    public static let duplicateDatabase: SQLState = "42P04"
    public static let queryCanceled: SQLState = "57014"
    public static let adminShutdown: SQLState = "57P01"
    public static let crashShutdown: SQLState = "57P02"
    public static let cannotConnectNow: SQLState = "57P03"
    public static let lockNotAvailable: SQLState = "55P03"
    public static let featureNotSupported: SQLState = "0A000"
    public static let invalidSQLStatementName: SQLState = "26000"
}
