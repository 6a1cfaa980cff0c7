import CLibPQ
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One NOTIFY received on a channel.
public struct PQNotification: Sendable, Equatable {
    public var channel: String
    public var payload: String
    /// The server process that sent it.
    public var backendPID: Int32
}

/// What a listener sees: notifications, and a mark after each reconnect, because anything
/// notified while the connection was down is lost and the reader should look again.
public enum PQListenEvent: Sendable, Equatable {
    case notification(PQNotification)
    case reconnected
}

public typealias PQNotifications = AsyncStream<PQListenEvent>

/// LISTEN on a dedicated connection served by its own thread, which waits on the socket with
/// poll(2) (PQsocket + PQconsumeInput + PQnotifies) and never touches the cooperative pool.
/// After a lost connection it reconnects with backoff and LISTENs to every channel again.
final class PQListener: Sendable {
    private struct Subscriber {
        var continuation: AsyncStream<PQListenEvent>.Continuation
    }

    private struct State {
        var subscribers: [String: [Int: Subscriber]] = [:]
        /// Channels the connection is listening to.
        var listening: Set<String> = []
        /// Subscribers waiting for their channel's LISTEN to be confirmed.
        var pendingListens: [(channel: String, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextID = 0
        var stopped = false
        var threadStarted = false
    }

    private let state = Mutex(State())
    private let configuration: PQConfiguration
    private let logger: Logger
    /// Receives the listener connection's notices (a FATAL when its backend is terminated).
    private let notices: NoticeLogger
    /// A pipe written to wake the thread from poll(2).
    private let wakeDescriptor: Int32
    private let wakeWriter: Int32

    init(configuration: PQConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.notices = NoticeLogger(logger: logger)
        var descriptors: [Int32] = [-1, -1]
        _ = pipe(&descriptors)
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        self.wakeDescriptor = descriptors[0]
        self.wakeWriter = descriptors[1]
    }

    deinit {
        close(wakeDescriptor)
        close(wakeWriter)
    }

    /// Subscribes to `channel`; returns once the server has confirmed the LISTEN.
    func listen(_ channel: String) async throws -> PQNotifications {
        let (stream, continuation) = AsyncStream<PQListenEvent>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let (id, startThread) = state.withLock { state -> (Int, Bool) in
            state.nextID += 1
            state.subscribers[channel, default: [:]][state.nextID] = Subscriber(continuation: continuation)
            let start = !state.threadStarted
            state.threadStarted = true
            return (state.nextID, start)
        }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(channel, id) }
        if startThread {
            let thread = Thread { [self] in self.runLoop() }
            thread.name = "carerelay.pq.listener"
            thread.start()
        }
        try await withCheckedThrowingContinuation { (confirm: CheckedContinuation<Void, any Error>) in
            let stopped = state.withLock { state -> Bool in
                if state.stopped { return true }
                state.pendingListens.append((channel, confirm))
                return false
            }
            if stopped { confirm.resume(throwing: PQError(.closed, "the listener is stopped")) }
            wake()
        }
        return stream
    }

    private func unsubscribe(_ channel: String, _ id: Int) {
        state.withLock { state in
            state.subscribers[channel]?[id] = nil
            if state.subscribers[channel]?.isEmpty == true { state.subscribers[channel] = nil }
        }
        wake()
    }

    func stop() {
        let (subscribers, pending) = state.withLock { state in
            state.stopped = true
            let subscribers = state.subscribers.values.flatMap { $0.values }
            state.subscribers.removeAll()
            let pending = state.pendingListens
            state.pendingListens.removeAll()
            return (subscribers, pending)
        }
        subscribers.forEach { $0.continuation.finish() }
        pending.forEach { $0.continuation.resume(throwing: PQError(.closed, "the listener is stopped")) }
        wake()
    }

    private func wake() {
        var one: UInt8 = 1
        _ = write(wakeWriter, &one, 1)
    }

    // MARK: The listener thread

    private func runLoop() {
        var connection: OpaquePointer?
        var backoff = 0.05
        var everConnected = false
        var announceReconnect = false
        defer { if let connection { PQfinish(connection) } }

        while !state.withLock({ $0.stopped }) {
            if connection == nil || PQstatus(connection) != CONNECTION_OK {
                if let lost = connection {
                    logger.warning("listener connection lost; reconnecting")
                    PQfinish(lost)
                    connection = nil
                    state.withLock { $0.listening.removeAll() }
                }
                connection = connect()
                guard connection != nil else {
                    waitForWake(timeoutMilliseconds: Int32(backoff * 1000))
                    backoff = min(backoff * 2, 2.0)
                    continue
                }
                backoff = 0.05
                announceReconnect = everConnected
                everConnected = true
            }
            guard let conn = connection else { continue }
            if !synchroniseChannels(conn) { continue }
            // Only now, listening again, is it safe for readers to look again.
            if announceReconnect {
                announceReconnect = false
                broadcast(.reconnected)
            }

            var descriptors = [
                pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&descriptors, 2, 1000)
            if descriptors[1].revents != 0 {
                drainWakePipe()
            }
            if descriptors[0].revents != 0 {
                if PQconsumeInput(conn) == 0 {
                    continue  // PQstatus is now bad; reconnect at the top
                }
            }
            if deliverNotifications(conn) > 0 {
                // Let the commits of the next few milliseconds gather and go out together: under
                // load every committed event transaction notifies, and waking this thread and
                // the readers for each one cost more CPU than the work they did.
                usleep(Self.gatherMicroseconds)
            }
        }
    }

    /// How long the thread waits after delivering before it looks again.
    static let gatherMicroseconds: UInt32 = 5_000

    private func connect() -> OpaquePointer? {
        do {
            return try connectBlocking(configuration, notices: notices)
        } catch {
            logger.warning("listener cannot connect", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// LISTENs to channels that gained subscribers, UNLISTENs from those that lost them, and
    /// confirms pending subscriptions. Returns false if the connection failed.
    private func synchroniseChannels(_ conn: OpaquePointer) -> Bool {
        let (wanted, listening) = state.withLock { (Set($0.subscribers.keys), $0.listening) }
        for channel in wanted.subtracting(listening) {
            guard run(conn, "LISTEN \(quoteIdentifier(channel))") else { return false }
            _ = state.withLock { $0.listening.insert(channel) }
        }
        for channel in listening.subtracting(wanted) {
            guard run(conn, "UNLISTEN \(quoteIdentifier(channel))") else { return false }
            _ = state.withLock { $0.listening.remove(channel) }
        }
        let confirmed = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            let ready = state.pendingListens.filter { state.listening.contains($0.channel) }
            state.pendingListens.removeAll { state.listening.contains($0.channel) }
            return ready.map(\.continuation)
        }
        confirmed.forEach { $0.resume() }
        return true
    }

    private func run(_ conn: OpaquePointer, _ sql: String) -> Bool {
        guard let result = PQexec(conn, sql) else { return false }
        defer { PQclear(result) }
        if PQresultStatus(result) != PGRES_COMMAND_OK {
            logger.error(
                "listener statement failed",
                metadata: ["sql": "\(sql)", "error": "\(String(cString: PQresultErrorMessage(result)))"])
            return PQstatus(conn) == CONNECTION_OK
        }
        return true
    }

    /// Hands every notification libpq has read to its subscribers; returns how many there were.
    private func deliverNotifications(_ conn: OpaquePointer) -> Int {
        var delivered = 0
        while let notify = PQnotifies(conn) {
            delivered += 1
            let notification = PQNotification(
                channel: String(cString: notify.pointee.relname),
                payload: String(cString: notify.pointee.extra),
                backendPID: notify.pointee.be_pid
            )
            PQfreemem(notify)
            let targets = state.withLock { $0.subscribers[notification.channel].map { Array($0.values) } ?? [] }
            targets.forEach { $0.continuation.yield(.notification(notification)) }
        }
        return delivered
    }

    private func broadcast(_ event: PQListenEvent) {
        let targets = state.withLock { $0.subscribers.values.flatMap { $0.values } }
        targets.forEach { $0.continuation.yield(event) }
    }

    private func drainWakePipe() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeDescriptor, &buffer, 64) > 0 {}
    }

    private func waitForWake(timeoutMilliseconds: Int32) {
        var descriptor = pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, timeoutMilliseconds) > 0 {
            drainWakePipe()
        }
    }
}

/// Quotes an SQL identifier ("name" with doubled quotes).
public func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
