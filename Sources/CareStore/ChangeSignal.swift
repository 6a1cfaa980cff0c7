import Foundation
import Logging
import PQ
import Synchronization

extension Duration {
    /// In seconds, fractions included (for SQL intervals and arithmetic).
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension ChangeSignal {
    /// Signals on every NOTIFY on `channel`, and once after each (re)connection (anything
    /// notified while the listener was down is lost, so waiters look again); retries a lost
    /// listener every second. Runs until the task is cancelled or the signal is closed.
    public func follow(_ pool: PQPool, channel: String, logger: Logger) async {
        while !Task.isCancelled && !isClosed {
            do {
                let notifications = try await pool.listen(channel)
                signal()
                for await _ in notifications {
                    signal()
                    if isClosed { return }
                }
            } catch {
                logger.error(
                    "cannot listen; waiters fall back to their timeouts",
                    metadata: ["channel": "\(channel)", "error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}

/// Tells waiters that something changed (a NOTIFY arrived), without losing a change that
/// happens between a waiter's look and its wait: a waiter reads `generation` before it looks,
/// then waits for a generation other than that one.
public final class ChangeSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var closed = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waits that ended (timeout, cancellation) before they parked.
        var finished: Set<UInt64> = []
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var generation: UInt64 { state.withLock { $0.generation } }
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Wakes every waiter.
    public func signal() {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.generation &+= 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Wakes every waiter now and every later one at once (the server is stopping).
    public func close() {
        state.withLock { $0.closed = true }
        signal()
    }

    /// Returns when the generation is no longer `seen`, after `timeout`, when closed, or when
    /// the task is cancelled; whichever comes first.
    public func wait(since seen: UInt64, timeout: Duration) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter &+= 1
            return state.nextWaiter
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: timeout) }
            group.addTask { await self.park(id, since: seen) }
            await group.next()
            group.cancelAll()
            self.release(id)
            await group.waitForAll()
        }
        _ = state.withLock { $0.finished.remove(id) }
    }

    private func park(_ id: UInt64, since seen: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.finished.remove(id) != nil || state.closed || state.generation != seen { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            release(id)
        }
    }

    /// Resumes the waiter if it is parked, or marks it finished so it does not park.
    private func release(_ id: UInt64) {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let parked = state.waiters.removeValue(forKey: id) { return parked }
            state.finished.insert(id)
            return nil
        }
        continuation?.resume()
    }
}
