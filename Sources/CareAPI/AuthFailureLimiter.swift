import Foundation
import Synchronization

/// Limits authentication failures: per presented token and per client address, within a
/// window. Past a limit, requests with that token or from that address are answered 429 with
/// Retry-After before anything is looked up, so tokens cannot be guessed at the database's pace.
public final class AuthFailureLimiter: Sendable {
    public struct Limits: Sendable {
        public var perToken: Int
        public var perAddress: Int
        public var window: Duration
        /// Loopback clients are not limited by address: behind a reverse proxy every client
        /// would share its address (the proxy then limits by the real one).
        public var exemptLoopback: Bool

        public init(
            perToken: Int = 10, perAddress: Int = 30, window: Duration = .seconds(60), exemptLoopback: Bool = true
        ) {
            self.perToken = perToken
            self.perAddress = perAddress
            self.window = window
            self.exemptLoopback = exemptLoopback
        }
    }

    let limits: Limits
    /// Failure times by key ("token:<hash>", "address:<ip>"), oldest first.
    private let failures = Mutex<[String: [ContinuousClock.Instant]]>([:])
    /// Keys kept at most (a flood of distinct tokens cannot grow it without bound).
    private let capacity = 50_000

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Seconds to wait when `token` or `address` is over its limit; nil when the request may go on.
    func retryAfter(token: String?, address: String?, now: ContinuousClock.Instant = .now) -> Int? {
        let keys = Self.keys(token: token, address: address, limits: limits)
        return failures.withLock { failures in
            var wait: Duration?
            for (key, limit) in keys {
                let recent = (failures[key] ?? []).filter { now - $0 < limits.window }
                if recent.count >= limit, let oldest = recent.first {
                    let left = limits.window - (now - oldest)
                    wait = max(wait ?? .zero, left)
                }
            }
            return wait.map { max(1, Int(($0 / .seconds(1)).rounded(.up))) }
        }
    }

    func recordFailure(token: String?, address: String?, now: ContinuousClock.Instant = .now) {
        let keys = Self.keys(token: token, address: address, limits: limits)
        failures.withLock { failures in
            for (key, _) in keys {
                var recent = (failures[key] ?? []).filter { now - $0 < limits.window }
                recent.append(now)
                failures[key] = recent
            }
            if failures.count > capacity {
                failures = failures.filter { _, times in times.last.map { now - $0 < limits.window } ?? false }
                if failures.count > capacity { failures.removeAll() }
            }
        }
    }

    private static func keys(token: String?, address: String?, limits: Limits) -> [(String, Int)] {
        var keys: [(String, Int)] = []
        if let token, !token.isEmpty { keys.append(("token:" + token, limits.perToken)) }
        if let address, !address.isEmpty,
            !(limits.exemptLoopback
                && (address.hasPrefix("127.") || address == "::1" || address.hasPrefix("::ffff:127.")))
        {
            keys.append(("address:" + address, limits.perAddress))
        }
        return keys
    }
}
