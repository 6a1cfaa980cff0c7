import CoreFormats
import Foundation
import PQ
import Testing
import TestSupport

struct Visit: Codable, Equatable, Sendable {
    var clinic: String
    var sessions: [Int]
    var note: String?
}

@Suite("Encoding and decoding every supported type against PostgreSQL")
struct CodingTests {
    /// Sends `value` as a parameter cast to `type` and reads it back.
    func roundTrip<T: PQEncodable & PQDecodable>(_ value: T, as type: String, on connection: PQConnection) async throws
        -> T
    {
        let rows = try await connection.query(PQQuery("SELECT $1::\(type)", [value]))
        return try rows[0].decode(T.self, at: 0)
    }

    @Test("text round-trips, including empty, non-ASCII and quotes")
    func text() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { (connection: PQConnection) async throws in
                for value in ["", "plain", "Grüße, Ærø, 東京, 🧠", "it's \"quoted\" \\ back", "line\nbreak\ttab"] {
                    #expect(try await roundTrip(value, as: "text", on: connection) == value)
                }
            }
        }
    }

    @Test("integers round-trip at their limits")
    func integers() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { (connection: PQConnection) async throws in
                for value in [0, 1, -1, Int.max, Int.min] {
                    #expect(try await roundTrip(value, as: "bigint", on: connection) == value)
                }
                for value in [Int64.max, Int64.min, 42] {
                    #expect(try await roundTrip(value, as: "int8", on: connection) == value)
                }
                for value in [Int32.max, Int32.min] {
                    #expect(try await roundTrip(value, as: "int4", on: connection) == value)
                }
                // A smallint column decodes as Int.
                let small = try await connection.query("SELECT 7::smallint")
                #expect(try small[0].decode(Int.self, at: 0) == 7)
            }
        }
    }

    @Test("doubles round-trip exactly, with infinities and NaN")
    func doubles() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { (connection: PQConnection) async throws in
                for value in [0.0, 1.5, -2.25, 0.1, 1e300, -1e-300, Double.pi, .infinity, -.infinity] {
                    #expect(try await roundTrip(value, as: "float8", on: connection) == value)
                }
                #expect(try await roundTrip(Double.nan, as: "float8", on: connection).isNaN)
            }
        }
    }

    @Test("booleans and UUIDs round-trip")
    func boolAndUUID() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { (connection: PQConnection) async throws in
                #expect(try await roundTrip(true, as: "boolean", on: connection) == true)
                #expect(try await roundTrip(false, as: "boolean", on: connection) == false)
                let id = UUID()
                #expect(try await roundTrip(id, as: "uuid", on: connection) == id)
                let generated = try await connection.query("SELECT gen_random_uuid()")
                _ = try generated[0].decode(UUID.self, at: 0)
            }
        }
    }

    @Test("UUIDs are written as PostgreSQL writes them and read in either case; other text is refused")
    func uuidText() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { (connection: PQConnection) async throws in
                for _ in 0..<50 {
                    let id = UUID()
                    let rows = try await connection.query("SELECT \(id)::uuid::text, upper(\(id)::uuid::text)")
                    let (text, upper) = try rows[0].decode(String.self, String.self)
                    #expect(id.lowercasedString == text)
                    #expect(UUID(hyphenated: text) == id)
                    #expect(UUID(hyphenated: upper) == id)
                }
                for bad in [
                    "", "not-a-uuid", "0e6e8a3c-3c43-4b1c-9a3e-0d7e5c1f9a2", "0e6e8a3c-3c43-4b1c-9a3e-0d7e5c1f9a2gg",
                    "0e6e8a3c3c434b1c9a3e0d7e5c1f9a2f0000", "0e6e8a3c-3c43-4b1c-9a3e_0d7e5c1f9a2f",
                ] {
                    #expect(UUID(hyphenated: bad) == nil, "\(bad)")
                }
            }
        }
    }

    @Test("UUID.random makes version 4 UUIDs with the RFC 9562 variant, all different, that PostgreSQL reads")
    func randomUUIDs() async throws {
        var seen = Set<UUID>()
        for _ in 0..<10_000 {
            let id = UUID.random()
            let text = id.lowercasedString
            #expect(text[text.index(text.startIndex, offsetBy: 14)] == "4")
            #expect("89ab".contains(text[text.index(text.startIndex, offsetBy: 19)]))
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
        // Every bit outside version and variant varies.
        let ors = seen.reduce(into: [UInt8](repeating: 0, count: 16)) { acc, id in
            withUnsafeBytes(of: id.uuid) { for (i, b) in $0.enumerated() { acc[i] |= b } }
        }
        let ands = seen.reduce(into: [UInt8](repeating: 0xFF, count: 16)) { acc, id in
            withUnsafeBytes(of: id.uuid) { for (i, b) in $0.enumerated() { acc[i] &= b } }
        }
        #expect(
            ors
                == [UInt8](repeating: 0xFF, count: 16).enumerated().map {
                    $0.offset == 6 ? 0x4F : $0.offset == 8 ? 0xBF : 0xFF
                })
        #expect(
            ands
                == [UInt8](repeating: 0, count: 16).enumerated().map {
                    $0.offset == 6 ? 0x40 : $0.offset == 8 ? 0x80 : 0
                })
        try await TestDatabase.withPool { pool, _ in
            let id = UUID.random()
            let rows = try await pool.query("SELECT \(id)::uuid::text")
            #expect(try rows[0].decode(String.self, at: 0) == id.lowercasedString)
        }
    }

    @Test("string dictionaries are JSON by hand: PostgreSQL reads back every key and value, escapes included")
    func stringDictionaryJSON() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { (connection: PQConnection) async throws in
                let payload = [
                    "plain": "value", "quote\"key": "back\\slash", "lines": "a\nb\rc\td",
                    "controls": "\u{1}\u{8}\u{c}\u{1f}",
                    "unicode": "Zürich ✓ 😀", "slash": "a/b", "": "empty key",
                ]
                let text = try PQJSON(payload).pqEncode()
                let back = try await connection.query("SELECT \(PQJSON(payload))::jsonb")
                #expect(try back[0].decode(PQJSON<[String: String]>.self, at: 0).value == payload)
                // Foundation's encoder, configured as PQJSON's, writes the same document.
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let foundation = try JSONSerialization.jsonObject(with: encoder.encode(payload)) as? NSDictionary
                #expect(try JSONSerialization.jsonObject(with: Data(text!.utf8)) as? NSDictionary == foundation)
                #expect(try PQJSON([String: String]()).pqEncode() == "{}")
            }
        }
    }

    @Test("timestamptz round-trips to the microsecond, before 1970, and as infinity")
    func dates() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { (connection: PQConnection) async throws in
                let values = [
                    Date(timeIntervalSince1970: 1_795_000_000.123456),
                    Date(timeIntervalSince1970: 0),
                    Date(timeIntervalSince1970: -1_234_567_890.5),
                    Date(timeIntervalSince1970: 4_102_444_800),  // 2100-01-01
                    Date(timeIntervalSince1970: 951_782_399.999_999),  // 2000-02-28T23:59:59.999999
                    Date(timeIntervalSince1970: 951_868_800),  // 2000-03-01, after a leap day
                    Date(timeIntervalSince1970: -62_135_596_800),  // 0001-01-01
                ]
                for value in values {
                    let back = try await roundTrip(value, as: "timestamptz", on: connection)
                    #expect(abs(back.timeIntervalSince1970 - value.timeIntervalSince1970) < 0.000_001)
                }
                // The text PostgreSQL is sent reads back as the same instant when PostgreSQL formats it.
                let sent = Date(timeIntervalSince1970: 1_795_770_000.25)
                let echoed = try await connection.query(
                    "SELECT to_char(\(sent)::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
                #expect(try echoed[0].decode(String.self, at: 0) == "2026-11-27T09:00:00.250000Z")
                #expect(try sent.pqEncode() == "2026-11-27T09:00:00.250000Z")
                #expect(try await roundTrip(Date.distantFuture, as: "timestamptz", on: connection) == .distantFuture)
                #expect(try await roundTrip(Date.distantPast, as: "timestamptz", on: connection) == .distantPast)
                // The server's own clock and a known instant, whatever the session time zone.
                try await connection.execute("SET TimeZone = 'America/New_York'")
                let rows = try await connection.query(
                    "SELECT '2026-11-27 10:00:00+01'::timestamptz, '2026-11-27'::date")
                let (instant, day) = try rows[0].decode(Date.self, Date.self)
                #expect(instant == Date(timeIntervalSince1970: 1_795_770_000))
                #expect(day == Date(timeIntervalSince1970: 1_795_737_600))
            }
        }
    }

    @Test("bytea round-trips every byte value and the empty value")
    func bytes() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { (connection: PQConnection) async throws in
                let all = Data((0...255).map { UInt8($0) })
                #expect(try await roundTrip(all, as: "bytea", on: connection) == all)
                #expect(try await roundTrip(Data(), as: "bytea", on: connection) == Data())
            }
        }
    }

    @Test("jsonb round-trips a Codable value")
    func json() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { (connection: PQConnection) async throws in
                let visit = Visit(clinic: "TMS Zürich", sessions: [1, 2, 36], note: nil)
                let back = try await roundTrip(PQJSON(visit), as: "jsonb", on: connection)
                #expect(back.value == visit)
                let field = try await connection.query("SELECT \(PQJSON(visit))::jsonb ->> 'clinic'")
                #expect(try field[0].decode(String.self, at: 0) == "TMS Zürich")

                // Dates: as PQJSON writes them, and in other ISO 8601 forms written elsewhere.
                struct Step: Codable, Equatable, Sendable { var from: Date }
                let step = Step(from: Date(timeIntervalSince1970: 1_787_184_000))
                #expect(try await roundTrip(PQJSON([step]), as: "jsonb", on: connection).value == [step])
                for text in ["2026-08-20T00:00:00Z", "2026-08-20T02:00:00+02:00", "2026-08-20T00:00:00.000Z"] {
                    let rows = try await connection.query(
                        "SELECT jsonb_build_array(jsonb_build_object('from', \(text)::text))")
                    #expect(try rows[0].decode(PQJSON<[Step]>.self, at: 0).value == [step], "\(text)")
                }
                let bad = try await connection.query(
                    "SELECT jsonb_build_array(jsonb_build_object('from', 'last tuesday'))")
                #expect(throws: (any Error).self) { try bad[0].decode(PQJSON<[Step]>.self, at: 0) }
            }
        }
    }

    @Test("arrays round-trip, with quotes, commas, braces and NULL elements")
    func arrays() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { (connection: PQConnection) async throws in
                let texts = [
                    "a", "b c", "with,comma", "{braces}", "quote\"d", "back\\slash", "", "NULL", "ü",
                    "Grüße \"東京\" \\ 🧠",
                ]
                #expect(try await roundTrip(texts, as: "text[]", on: connection) == texts)
                #expect(try await roundTrip([Int](), as: "int8[]", on: connection) == [])
                #expect(try await roundTrip([1, -2, 3], as: "int8[]", on: connection) == [1, -2, 3])
                let ids = [UUID(), UUID()]
                #expect(try await roundTrip(ids, as: "uuid[]", on: connection) == ids)
                let optionals: [String?] = ["x", nil, "z"]
                #expect(try await roundTrip(optionals, as: "text[]", on: connection) == optionals)
                // An array parameter in = ANY().
                let rows = try await connection.query(
                    "SELECT count(*) FROM generate_series(1, 10) g WHERE g = ANY(\([2, 4, 99])::int[])")
                #expect(try rows[0].decode(Int.self, at: 0) == 2)
            }
        }
    }

    @Test("NULL travels through optionals of every type")
    func nulls() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { (connection: PQConnection) async throws in
                #expect(try await roundTrip(String?.none, as: "text", on: connection) == nil)
                #expect(try await roundTrip(Int?.none, as: "int8", on: connection) == nil)
                #expect(try await roundTrip(Double?.none, as: "float8", on: connection) == nil)
                #expect(try await roundTrip(Bool?.none, as: "boolean", on: connection) == nil)
                #expect(try await roundTrip(UUID?.none, as: "uuid", on: connection) == nil)
                #expect(try await roundTrip(Date?.none, as: "timestamptz", on: connection) == nil)
                #expect(try await roundTrip(Data?.none, as: "bytea", on: connection) == nil)
                #expect(try await roundTrip(PQJSON<Visit>?.none, as: "jsonb", on: connection) == nil)
                #expect(try await roundTrip(Optional("present"), as: "text", on: connection) == "present")
            }
        }
    }

    @Test("values decode by column name into a typed tuple")
    func byName() async throws {
        try await TestDatabase.withPool { pool, _ in
            let rows = try await pool.query("SELECT 1 AS id, 'Ada' AS name, NULL::text AS nickname")
            let row = try #require(rows.firstRow)
            #expect(try row.decode(Int.self, column: "id") == 1)
            #expect(try row["name", as: String.self] == "Ada")
            #expect(try row.decode(String?.self, column: "nickname") == nil)
            let (id, name, nickname) = try row.decode(Int.self, String.self, String?.self)
            #expect(id == 1 && name == "Ada" && nickname == nil)
        }
    }

    @Test("a type mismatch, a NULL for a non-optional and a missing column are errors naming the column")
    func decodingErrors() async throws {
        try await TestDatabase.withPool { pool, _ in
            let rows = try await pool.query("SELECT 'x'::text AS label, NULL::int AS score")
            let row = try #require(rows.firstRow)
            let mismatch = #expect(throws: PQError.self) { try row.decode(Int.self, column: "label") }
            #expect(mismatch?.kind == .decoding)
            #expect(mismatch?.column == "label")
            #expect(mismatch?.message.contains("\"label\"") == true)
            #expect(mismatch?.message.contains("text") == true)
            let null = #expect(throws: PQError.self) { try row.decode(Int.self, column: "score") }
            #expect(null?.message.contains("\"score\" is NULL") == true)
            let missing = #expect(throws: PQError.self) { try row.decode(Int.self, column: "nope") }
            #expect(missing?.message.contains("no column \"nope\"") == true)
        }
    }

    @Test("a NUL character in text is refused before it can truncate the value")
    func nulCharacter() async throws {
        try await TestDatabase.withPool { pool, _ in
            let error = await #expect(throws: PQError.self) {
                try await pool.query("SELECT \("before\u{0}after")::text")
            }
            #expect(error?.kind == .encoding)
        }
    }

    @Test("values written to a table read back through Decodable-free rows")
    func tableRoundTrip() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.query(
                """
                CREATE TABLE sample (id uuid PRIMARY KEY, name text NOT NULL, score int, weight float8,
                  active bool, seen timestamptz, blob bytea, doc jsonb, tags text[])
                """)
            let id = UUID()
            let seen = Date(timeIntervalSince1970: 1_700_000_000.5)
            try await pool.query(
                """
                INSERT INTO sample VALUES (\(id), \("Zoë"), \(27), \(61.5), \(true), \(seen), \(Data([1, 2])),
                  \(PQJSON(["k": "v"])), \(["x", "y"]))
                """)
            let rows = try await pool.query("SELECT id, name, score, weight, active, seen, blob, doc, tags FROM sample")
            let values = try rows[0].decode(
                UUID.self, String.self, Int.self, Double.self, Bool.self, Date.self, Data.self,
                PQJSON<[String: String]>.self, [String].self)
            #expect(values.0 == id && values.1 == "Zoë" && values.2 == 27 && values.3 == 61.5 && values.4)
            #expect(
                values.5 == seen && values.6 == Data([1, 2]) && values.7.value == ["k": "v"] && values.8 == ["x", "y"])
        }
    }
}
