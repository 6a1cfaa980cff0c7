import Dispatch

/// A serial executor on a private dispatch queue: a connection's blocking libpq calls run here,
/// never on Swift's cooperative thread pool (two threads on a two-core machine).
///
/// Dispatch queues are served by libdispatch's own worker threads, which it adds when a worker
/// blocks, so eight connections each blocked in `PQexec` hold eight dispatch threads and leave the
/// cooperative pool (and so the HTTP server) free.
public final class PQExecutor: SerialExecutor {
    let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label, qos: .userInitiated)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async {
            job.runSynchronously(on: self.asUnownedSerialExecutor())
        }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func checkIsolated() {
        dispatchPrecondition(condition: .onQueue(queue))
    }
}
