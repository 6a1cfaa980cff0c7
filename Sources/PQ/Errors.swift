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
    public var sqlState: String?
    public var severity: String?
    public var detail: String?
    public var hint: String?
    public var constraint: String?
    public var table: String?
    public var column: String?
    public var schema: String?
    public var dataType: String?

    public init(
        _ kind: Kind, _ message: String, sqlState: String? = nil, severity: String? = nil,
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
            || sqlState.map { $0.hasPrefix("08") || $0 == "57P01" || $0 == "57P02" || $0 == "57P03" } == true
    }

    /// Serialization failure or deadlock: the transaction may succeed if run again.
    public var isRetryableTransactionFailure: Bool {
        sqlState == SQLState.serializationFailure || sqlState == SQLState.deadlockDetected
    }
}

/// The SQLSTATE codes the rest of CareRelay reacts to.
public enum SQLState {
    public static let uniqueViolation = "23505"
    public static let foreignKeyViolation = "23503"
    public static let checkViolation = "23514"
    public static let notNullViolation = "23502"
    public static let exclusionViolation = "23P01"
    public static let serializationFailure = "40001"
    public static let deadlockDetected = "40P01"
    public static let insufficientPrivilege = "42501"
    public static let queryCanceled = "57014"
    public static let adminShutdown = "57P01"
    public static let lockNotAvailable = "55P03"
    public static let featureNotSupported = "0A000"
    public static let invalidSQLStatementName = "26000"
}
