import CLibPQ
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One thread that waits on every connection's socket at once, as pgbench's client does with
/// its `select` over its connections (docs/architecture.md, "The driver").
///
/// Connections run libpq in non-blocking mode: a statement is sent, and the task that sent it
/// suspends in `wait` until its socket is readable (or writable, for a send libpq could not
/// finish). No thread sleeps per round trip: under load one `epoll_wait` finds several answers,
/// and the tasks go on where they were. The poller's thread only resumes continuations.
final class PQPoller: Sendable {
    static let shared = PQPoller()

    #if os(Linux)
        private let epoll: Int32
        /// The task waiting on each socket. It is resumed when the socket is ready, or at once
        /// when the socket cannot be waited on (closed): its next libpq call finds the error.
        private let waiting = Mutex<[Int32: CheckedContinuation<Void, Never>]>([:])

        private init() {
            epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
            precondition(epoll >= 0, "epoll_create1 failed: errno \(errno)")
            let thread = Thread { [self] in run() }
            thread.name = "carerelay.pq.poller"
            thread.qualityOfService = .userInitiated
            thread.start()
        }

        /// Suspends until `socket` is readable (or, with `writable`, writable too), or closed.
        /// One waiter per socket: a connection is used by one task at a time.
        func wait(_ socket: Int32, writable: Bool = false) async {
            await withCheckedContinuation { continuation in
                waiting.withLock { $0[socket] = continuation }
                if cpq_epoll_arm(epoll, socket, writable ? 1 : 0) != 0 {
                    waiting.withLock { $0.removeValue(forKey: socket) }?.resume()
                }
            }
        }

        private func run() {
            var ready = [Int32](repeating: -1, count: 64)
            while true {
                let count = cpq_epoll_wait(epoll, &ready, Int32(ready.count), -1)
                guard count > 0 else { continue }  // EINTR
                let woken = waiting.withLock { waiting in
                    ready.prefix(Int(count)).compactMap { waiting.removeValue(forKey: $0) }
                }
                for continuation in woken { continuation.resume() }
            }
        }
    #else
        /// Elsewhere than Linux (development only): one poll(2) a wait on a dispatch thread.
        func wait(_ socket: Int32, writable: Bool = false) async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    var descriptor = pollfd(
                        fd: socket, events: Int16(POLLIN) | (writable ? Int16(POLLOUT) : 0), revents: 0)
                    _ = poll(&descriptor, 1, -1)
                    continuation.resume()
                }
            }
        }
    #endif
}
