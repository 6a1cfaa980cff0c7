import CareDomain
import CareStore
import CoreFormats
import Foundation
import NIOCore
import PQ
import Synchronization
import Testing
import TestSupport

/// A rolling restart as an orchestrator does it (docs/operations.md, "Stopping and rolling
/// restarts"): two care-servers behind a load balancer that honours GET /ready, one of them
/// told to stop (SIGTERM) under load.
@Suite("Rolling restarts", .timeLimit(.minutes(3)))
struct DrainTests {
    /// The balancer of the test: sends each request to an instance whose readiness it last saw
    /// as 200, checking each instance every `period` (each on its own, as a Kubernetes kubelet
    /// probes each pod) with a `timeout`, and taking one out after `threshold` failed checks in
    /// a row. It notices a pod that stopped being ready within threshold x (period + timeout):
    /// the drain the test gives the server is longer than that.
    final class Balancer: Sendable {
        let ports: [Int]
        let period: Duration = .milliseconds(250)
        let timeout: TimeAmount = .seconds(1)
        let threshold = 2
        private let state = Mutex<
            (ready: Set<Int>, failures: [Int: Int], seen: [Int: [Int]], removed: [Int: ContinuousClock.Instant])
        >(([], [:], [:], [:]))

        init(ports: [Int]) {
            self.ports = ports
            state.withLock { $0.ready = Set(ports) }
        }

        var ready: Set<Int> { state.withLock { $0.ready } }
        /// The readiness answers seen from `port` (0: no answer in time).
        func seen(_ port: Int) -> [Int] { state.withLock { $0.seen[port] ?? [] } }
        /// When the balancer last took `port` out.
        func removed(_ port: Int) -> ContinuousClock.Instant? { state.withLock { $0.removed[port] } }

        func pick() -> Int? { ready.randomElement() }

        func probe() async {
            await withTaskGroup(of: Void.self) { group in
                for port in ports {
                    group.addTask { await self.probe(port) }
                }
            }
        }

        private func probe(_ port: Int) async {
            while !Task.isCancelled {
                let status =
                    (try? await HTTP.send("GET", "http://127.0.0.1:\(port)/ready", timeout: timeout))?.status ?? 0
                state.withLock { state in
                    state.seen[port, default: []].append(status)
                    if status == 200 {
                        state.failures[port] = 0
                        state.ready.insert(port)
                    } else {
                        state.failures[port, default: 0] += 1
                        if state.failures[port]! >= threshold, state.ready.remove(port) != nil {
                            state.removed[port] = .now
                        }
                    }
                }
                try? await Task.sleep(for: period)
            }
        }
    }

    /// What the load sent, and whether the server had been told to stop when it did.
    final class Log: Sendable {
        let stopped = Atomic(false)
        /// The load ends when this is set: each worker finishes the request it has in flight.
        let finished = Atomic(false)
        let sent = Mutex<[Sent]>([])
    }

    struct Sent: Sendable {
        var port: Int
        var afterStop: Bool
        var status: Int?
        var error: String?
        var wrote: Bool
        var ok: Bool { error == nil && status.map { (200..<300).contains($0) } == true }
    }

    @Test(
        """
        SIGTERM under load: /ready turns 503 at once, the server serves on through its drain, then stops; no request \
        the balancer sent fails and every write is stored once
        """
    )
    func rollingRestartLosesNothing() async throws {
        let database = try await TestDatabase.shared()
        let configuration = try await database.makeDatabase()
        let leaving = try ServerProcessTests.RunningServer(
            databaseURL: configuration.conninfo, environment: ["CARE_DRAIN_SECONDS": "6"])
        let leavingPort = try await leaving.waitForPort()
        let staying = try ServerProcessTests.RunningServer(databaseURL: configuration.conninfo)
        let stayingPort = try await staying.waitForPort()

        let pool = PQPool(
            configuration: configuration, options: .init(minimumConnections: 0, maximumConnections: 2),
            logger: testLogger())
        let store = CareStore(pool: pool, logger: testLogger())
        let team = try await store.createTeam(name: "Rolling", by: .system())
        let member = try await store.createMember(
            displayName: "Dr. Rolling", teamID: team, roles: [.psychiatrist], by: .system())
        let token = try await store.issueToken(memberID: member, expiresAt: nil, by: .system()).token
        let patient = try await store.createPatient(
            teamID: team, mrn: "R-1", displayName: "Robin Rolling", enrolledOn: Date(), by: .system())

        let balancer = Balancer(ports: [leavingPort, stayingPort])
        let probing = Task { await balancer.probe() }
        defer { probing.cancel() }
        let log = Log()
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        var n = 0
                        while !log.finished.load(ordering: .acquiring) {
                            guard let port = balancer.pick() else {
                                await Task.yield()
                                continue
                            }
                            n += 1
                            let write = (worker + n) % 2 == 0
                            let afterStop = log.stopped.load(ordering: .acquiring)
                            let base = "http://127.0.0.1:\(port)/v1/patients/\(patient.lowercasedString)"
                            var record = Sent(port: port, afterStop: afterStop, wrote: write)
                            do {
                                let answer =
                                    write
                                    ? try await HTTP.send(
                                        "POST", base + "/measurements", token: token,
                                        json: #"{"instrument": "PHQ-9", "total": \#(n % 28)}"#,
                                        key: "w\(worker)-\(n)")
                                    : try await HTTP.send("GET", base, token: token)
                                record.status = answer.status
                            } catch {
                                record.error = "\(error)"
                            }
                            log.sent.withLock { $0.append(record) }
                        }
                    }
                }
            }
        }
        func served(_ port: Int, afterStop: Bool) -> Int {
            log.sent.withLock { $0.filter { $0.port == port && $0.afterStop == afterStop && $0.ok }.count }
        }
        // Both instances are taking requests before one is told to stop.
        #expect(
            try await eventually(60) {
                served(leavingPort, afterStop: false) >= 20 && served(stayingPort, afterStop: false) >= 20
            })
        let clock = ContinuousClock()
        let told = clock.now
        log.stopped.store(true, ordering: .releasing)
        leaving.process.terminate()  // SIGTERM
        // When it stopped: what it did during its drain is judged by that, not by how long this
        // box took to do it.
        let exit = Task { () -> ContinuousClock.Instant in
            while leaving.exited.withLock({ $0 }) == nil { try? await Task.sleep(for: .milliseconds(10)) }
            return clock.now
        }
        // Once it says it is not ready, it still serves what reaches it: a balancer that has not
        // yet noticed, or a connection already open. (Asked directly: whether the balancer's own
        // requests land in that window depends on how fast the box answers them.)
        #expect(
            try await eventually(5) {
                (try? await HTTP.send("GET", "http://127.0.0.1:\(leavingPort)/ready"))?.status == 503
            })
        let draining = "http://127.0.0.1:\(leavingPort)/v1/patients/\(patient.lowercasedString)"
        for write in [false, true] {
            var record = Sent(port: leavingPort, afterStop: true, wrote: write)
            do {
                let answer =
                    write
                    ? try await HTTP.send(
                        "POST", draining + "/measurements", token: token, json: #"{"instrument": "PHQ-9", "total": 4}"#,
                        key: "draining")
                    : try await HTTP.send("GET", draining, token: token)
                record.status = answer.status
            } catch {
                record.error = "\(error)"
            }
            log.sent.withLock { $0.append(record) }
        }
        let answeredAt = clock.now
        #expect(try await eventually(30) { !balancer.ready.contains(leavingPort) })
        #expect(try await eventually(60) { leaving.exited.withLock { $0 } != nil })
        let exitedAt = await exit.value
        let exitedAfter = exitedAt - told
        // And the load goes on, on the other instance.
        let before = served(stayingPort, afterStop: true)
        #expect(try await eventually(30) { served(stayingPort, afterStop: true) >= before + 20 })
        log.finished.store(true, ordering: .releasing)
        await load.value

        let all = log.sent.withLock { $0 }
        let failed = all.filter { !$0.ok }
        #expect(failed.isEmpty, "\(failed.count) of \(all.count) requests failed: \(failed.prefix(5))")
        #expect(leaving.exited.withLock { $0 } == 0, "\(leaving.output.withLock { $0 })")
        // The balancer took it out because it answered 503, not because it had gone: readiness
        // turned before the server stopped listening, and it went on serving meanwhile.
        #expect(balancer.seen(leavingPort).contains(503), "\(balancer.seen(leavingPort))")
        let removedAt = try #require(balancer.removed(leavingPort))
        #expect(
            removedAt < exitedAt, "taken out \(removedAt - told) after SIGTERM, once it had stopped (\(exitedAfter))")
        #expect(exitedAfter >= .seconds(6), "it stopped after \(exitedAfter), before its drain of 6 s")
        #expect(
            answeredAt < exitedAt,
            "the direct requests were answered \(answeredAt - told) after SIGTERM, once it had stopped (\(exitedAfter))"
        )
        #expect(served(leavingPort, afterStop: true) >= 2, "it did not serve on after SIGTERM")
        #expect(leaving.output.withLock { $0 }.contains("draining"))

        // Every write that was answered 201 is stored, once.
        let written = all.filter { $0.wrote && $0.ok }.count
        let stored = try await pool.query(
            "SELECT count(*) FROM measurements WHERE patient_id = \(patient)")[0].decode(Int.self, at: 0)
        #expect(stored == written)
        await pool.close()
        #expect(try await staying.terminate() == 0)
    }
}
