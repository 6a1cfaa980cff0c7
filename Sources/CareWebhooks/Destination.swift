import Dispatch
import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// An IPv4 or IPv6 network, e.g. 127.0.0.0/8 or fc00::/7.
public struct IPNetwork: Sendable, Equatable, CustomStringConvertible {
    public let address: [UInt8]
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let address = IPNetwork.parseAddress(parts[0]) else { return nil }
        let length = parts.count == 2 ? Int(parts[1]) : address.count * 8
        guard let length, length >= 0, length <= address.count * 8 else { return nil }
        self.address = address
        self.prefixLength = length
    }

    public func contains(_ candidate: [UInt8]) -> Bool {
        guard candidate.count == address.count else { return false }
        var remaining = prefixLength
        for (a, b) in zip(address, candidate) where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if a & mask != b & mask { return false }
            remaining -= bits
        }
        return true
    }

    public var description: String { "\(IPNetwork.format(address))/\(prefixLength)" }

    static func parseAddress(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func format(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var raw = bytes
        _ = inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Why a webhook URL is refused.
public struct DestinationRefused: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A destination that passed the check: its host and port, and the address to connect to.
public struct CheckedDestination: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var address: String
    /// The host is an address itself: nothing to resolve, nothing to pin.
    public var hostIsAddress: Bool { IPNetwork.parseAddress(host) != nil }
}

/// Where webhooks may go: http or https URLs whose host resolves only to public addresses.
/// Private, loopback, link-local and other special-purpose networks are refused unless the
/// operator allows them (`--webhook-allow-network 127.0.0.0/8`, for tests and local demos).
/// The check runs when a subscription is made and again before every attempt (a name may
/// resolve elsewhere later).
public struct DestinationPolicy: Sendable {
    public var allowedNetworks: [IPNetwork]
    /// Names to addresses (getaddrinfo unless a test says otherwise).
    public var resolver: @Sendable (String) async throws -> [[UInt8]]

    public init(
        allowedNetworks: [IPNetwork] = [],
        resolver: @escaping @Sendable (String) async throws -> [[UInt8]] = DestinationPolicy.resolve
    ) {
        self.allowedNetworks = allowedNetworks
        self.resolver = resolver
    }

    /// The IANA special-purpose address registries (RFC 6890 and its updates) and the IPv6 forms
    /// that carry an IPv4 address (IPv4-compatible, NAT64, 6to4, Teredo) or reach a site: no
    /// webhook goes there by default. IPv4-mapped addresses are judged by the IPv4 they carry.
    static let refusedNetworks: [(IPNetwork, String)] = [
        ("0.0.0.0/8", "unspecified"), ("10.0.0.0/8", "private"), ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local"), ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "special-purpose"), ("192.0.2.0/24", "documentation"),
        ("192.31.196.0/24", "special-purpose (AS112)"),
        ("192.52.193.0/24", "special-purpose (AMT)"), ("192.88.99.0/24", "special-purpose (6to4 relay)"),
        ("192.168.0.0/16", "private"),
        ("192.175.48.0/24", "special-purpose (AS112)"), ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"), ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved"),
        ("255.255.255.255/32", "broadcast"),
        ("::/128", "unspecified"), ("::1/128", "loopback"), ("::/96", "IPv4-compatible (deprecated)"),
        ("64:ff9b::/96", "NAT64"), ("64:ff9b:1::/48", "NAT64 (local use)"), ("100::/64", "discard-only"),
        ("2001::/23", "special-purpose (IETF protocol assignments, Teredo)"), ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"), ("3fff::/20", "documentation"), ("5f00::/16", "special-purpose (SRv6)"),
        ("fc00::/7", "private (unique local)"), ("fe80::/10", "link-local"), ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
    ].map { (IPNetwork($0.0)!, $0.1) }

    /// The URL's syntax: scheme, host, no credentials. Returns the host and port.
    public func checkSyntax(_ text: String) throws -> (host: String, port: Int) {
        guard text.count <= 2000, let url = URLComponents(string: text), let scheme = url.scheme?.lowercased() else {
            throw DestinationRefused("'url' must be an absolute http or https URL")
        }
        guard scheme == "http" || scheme == "https" else {
            throw DestinationRefused("'url' must use http or https, not \(scheme)")
        }
        guard var host = url.host, !host.isEmpty else { throw DestinationRefused("'url' has no host") }
        guard url.user == nil, url.password == nil else {
            throw DestinationRefused(
                "'url' must not carry credentials; receivers verify the webhook-signature header instead")
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65535).contains(port) else { throw DestinationRefused("'url' has an invalid port") }
        return (host, port)
    }

    /// Checks the URL and every address its host resolves to, and returns the address to
    /// connect to: one of those checked, so that the connection goes where the check looked
    /// (a name that resolves elsewhere a moment later is not asked again).
    @discardableResult
    public func check(_ text: String) async throws -> CheckedDestination {
        let (host, port) = try checkSyntax(text)
        let addresses = try await resolver(host)
        guard let first = addresses.first else {
            throw DestinationRefused("the host '\(host)' of 'url' does not resolve")
        }
        for address in addresses {
            try check(address: address, host: host)
        }
        return CheckedDestination(host: host, port: port, address: IPNetwork.format(first))
    }

    /// Refuses an address in a special-purpose network the operator has not allowed. The refusal
    /// says what kind of network, never which address a name resolved to.
    func check(address: [UInt8], host: String) throws {
        var candidate = address
        // An IPv4-mapped address (::ffff:a.b.c.d) is the IPv4 address it carries.
        if address.count == 16, address[0..<10].allSatisfy({ $0 == 0 }), address[10] == 0xFF, address[11] == 0xFF {
            candidate = Array(address[12...])
        }
        if allowedNetworks.contains(where: { $0.contains(candidate) || $0.contains(address) }) { return }
        if let (_, kind) = Self.refusedNetworks.first(where: { $0.0.contains(candidate) }) {
            throw DestinationRefused(
                """
                '\(host)' is or resolves to a \(kind) address; webhooks go to public addresses unless the operator \
                allows that network
                """
            )
        }
    }

    /// getaddrinfo on a dispatch thread (it blocks), never on the cooperative pool.
    public static func resolve(_ host: String) async throws -> [[UInt8]] {
        if let literal = IPNetwork.parseAddress(host) { return [literal] }
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                var hints = addrinfo()
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var result: UnsafeMutablePointer<addrinfo>?
                let status = getaddrinfo(host, nil, &hints, &result)
                guard status == 0 else {
                    continuation.resume(throwing: DestinationRefused("the host '\(host)' of 'url' does not resolve"))
                    return
                }
                defer { freeaddrinfo(result) }
                var addresses: [[UInt8]] = []
                var cursor = result
                while let entry = cursor {
                    if let address = entry.pointee.ai_addr {
                        if entry.pointee.ai_family == AF_INET {
                            address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                                var raw = v4.pointee.sin_addr
                                addresses.append(withUnsafeBytes(of: &raw) { Array($0) })
                            }
                        } else if entry.pointee.ai_family == AF_INET6 {
                            address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                                var raw = v6.pointee.sin6_addr
                                addresses.append(withUnsafeBytes(of: &raw) { Array($0) })
                            }
                        }
                    }
                    cursor = entry.pointee.ai_next
                }
                continuation.resume(returning: addresses)
            }
        }
    }
}
