/// Where and how to connect: a libpq connection string or URL, e.g.
/// `postgresql://care@db.example/care`, `postgresql:///care?host=/run/care-pg`, or
/// `host=/tmp/sock dbname=care user=postgres`.
public struct PQConfiguration: Sendable, CustomStringConvertible {
    public var conninfo: String
    /// Seconds libpq waits for a connection before giving up.
    public var connectTimeout: Int
    public var applicationName: String
    /// A role every session becomes as soon as it connects (`SET ROLE`): the login must be a
    /// member of it. `RESET ROLE` goes back to the login itself.
    public var role: String?
    /// A transaction-mode pooler (PgBouncer) stands between us and PostgreSQL: one server
    /// session serves many clients, each only for a transaction. So nothing may live in the
    /// session: statements are never prepared by name (PgBouncer 1.18 does not carry them from
    /// one server connection to another), no `options` go in the startup packet (PgBouncer
    /// refuses them), the settings we need are SET after connecting (DateStyle and TimeZone,
    /// which PgBouncer tracks per client and restores on whichever server connection it lends),
    /// and `role` is refused. LISTEN needs a direct connection (`PQPool`'s
    /// `listenConfiguration`). docs/operations.md, "Behind a connection pooler".
    public var transactionPooler: Bool

    public init(
        _ conninfo: String, connectTimeout: Int = 10, applicationName: String = "carerelay", role: String? = nil,
        transactionPooler: Bool = false
    ) {
        self.conninfo = conninfo
        self.connectTimeout = connectTimeout
        self.applicationName = applicationName
        self.role = role
        self.transactionPooler = transactionPooler
    }

    /// A connection over a Unix socket in `socketDirectory`.
    public static func unixSocket(
        directory socketDirectory: String, port: Int = 5432, database: String, user: String
    ) -> PQConfiguration {
        PQConfiguration(
            "host='\(escape(socketDirectory))' port=\(port) dbname='\(escape(database))' user='\(escape(user))'")
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
    }

    /// Keyword/value pairs for PQconnectdbParams. Our defaults come first, so a setting in the
    /// connection string wins; the connection string itself is expanded from `dbname`.
    var connectParameters: [(String, String)] {
        var parameters: [(String, String)] = [
            ("connect_timeout", String(connectTimeout)),
            ("fallback_application_name", applicationName),
            ("client_encoding", "UTF8"),
        ]
        if !transactionPooler {
            parameters.append(("options", "-c DateStyle=ISO,MDY -c TimeZone=UTC -c IntervalStyle=iso_8601"))
        }
        parameters.append(("dbname", conninfo))
        return parameters
    }

    /// The connection string with any password hidden, for logs.
    public var description: String {
        var text = conninfo
        if let range = text.range(of: #"://[^:/@]*:[^@]*@"#, options: .regularExpression) {
            let userEnd = text[range].dropFirst(3).firstIndex(of: ":")!
            text.replaceSubrange(userEnd..<text.index(before: range.upperBound), with: ":***")
        }
        if let range = text.range(of: #"password\s*=\s*('[^']*'|\S+)"#, options: .regularExpression) {
            text.replaceSubrange(range, with: "password=***")
        }
        return text
    }
}
