import CareDomain
import Foundation
import Testing

@Suite("The default handoff playbook")
struct PlaybookTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    func plans(_ type: EventType, referral: ReferralKind? = nil, safety: Bool = false) -> [HandoffPlan] {
        Playbook.default.handoffs(
            for: PlaybookEvent(
                type: type, occurredAt: now, referralKind: referral, safetySignal: safety, summary: "test"))
    }

    @Test(
        """
        a failed trial: psychiatrist plans the next step, psychologist reviews therapy, social worker screens for \
        barriers
        """
    )
    func trialFailed() {
        let handoffs = plans(EventType.trialFailed)
        #expect(handoffs.map(\.role) == [.psychiatrist, .psychologist, .socialWorker])
        #expect(handoffs[0].title.contains("next treatment step"))
        #expect(handoffs[1].title.contains("CBT or behavioural activation"))
        #expect(handoffs[2].title.contains("barriers"))
        #expect(handoffs.allSatisfy { $0.reason == "Failed trial: test" && $0.due > now })
    }

    @Test("reaching TRD: the psychiatrist evaluates for TMS, ECT or esketamine")
    func trdReached() {
        let handoffs = plans(EventType.trdReached)
        #expect(handoffs.map(\.role) == [.psychiatrist])
        #expect(handoffs[0].title.contains("TMS, ECT or esketamine"))
    }

    @Test("a TMS referral: prior authorisation and transport, contraindications, education")
    func tmsReferral() {
        let handoffs = plans(EventType.referralMade, referral: .tms)
        #expect(handoffs.map(\.role) == [.socialWorker, .socialWorker, .psychiatrist, .psychologist])
        #expect(handoffs[0].title.contains("prior authorisation"))
        #expect(handoffs[0].title.contains("PHQ-9 before and after"))
        #expect(handoffs[1].title.contains("transport"))
        #expect(handoffs[2].title.contains("contraindications"))
        #expect(handoffs[3].title.contains("education"))
    }

    @Test("an ECT referral: authorisation, escort and letter; workup and taper; consent and cognition")
    func ectReferral() {
        let handoffs = plans(EventType.referralMade, referral: .ect)
        #expect(handoffs.map(\.role) == [.socialWorker, .psychiatrist, .psychologist])
        #expect(handoffs[0].title.contains("no driving"))
        #expect(handoffs[1].title.contains("anaesthesia"))
        #expect(handoffs[2].title.contains("cognitive"))
    }

    @Test("an esketamine referral has no default steps, and TMS steps never fire for ECT")
    func otherReferrals() {
        #expect(plans(EventType.referralMade, referral: .esketamine).isEmpty)
        #expect(
            Set(plans(EventType.referralMade, referral: .ect).map(\.stepKey)).isDisjoint(
                with: plans(EventType.referralMade, referral: .tms).map(\.stepKey)))
    }

    @Test("a safety signal: urgent same-day assessment by psychiatrist and psychologist; an ordinary score: nothing")
    func safetySignal() {
        let handoffs = plans(EventType.measurementRecorded, safety: true)
        #expect(handoffs.map(\.role) == [.psychiatrist, .psychologist])
        #expect(handoffs.allSatisfy { $0.priority == .stat && $0.due.timeIntervalSince(now) <= 12 * 3600 })
        #expect(plans(EventType.measurementRecorded, safety: false).isEmpty)
    }

    @Test("an overdue handoff escalates to the care manager")
    func escalation() {
        let handoffs = plans(EventType.handoffEscalated)
        #expect(handoffs.map(\.role) == [.careManager])
        #expect(handoffs[0].priority == .urgent)
    }

    @Test("every step key is unique, so (event, step) identifies a handoff")
    func uniqueKeys() {
        let keys = Playbook.default.steps.map(\.key)
        #expect(Set(keys).count == keys.count)
    }

    @Test("the playbook is data: an edited step changes the handoffs")
    func editable() {
        var playbook = Playbook.default
        playbook.steps.removeAll { $0.event == EventType.trialFailed && $0.role == .socialWorker }
        let handoffs = playbook.handoffs(for: PlaybookEvent(type: EventType.trialFailed, occurredAt: now, summary: "x"))
        #expect(handoffs.map(\.role) == [.psychiatrist, .psychologist])
    }
}

@Suite("Status transitions")
struct StatusTests {
    @Test(
        "task status transitions (docs/domain.md's task status machine, FHIR Task codes)",
        arguments: [
            (TaskStatus.requested, TaskStatus.accepted, true), (.requested, .inProgress, true),
            // Completing a requested or accepted task claims it in the same step.
            (.requested, .completed, true), (.accepted, .completed, true),
            (.accepted, .inProgress, true), (.inProgress, .completed, true), (.inProgress, .failed, true),
            (.onHold, .inProgress, true), (.onHold, .completed, false), (.completed, .inProgress, false),
            (.cancelled, .requested, false),
            (.failed, .completed, false), (.requested, .cancelled, true), (.requested, .failed, true),
            (.onHold, .cancelled, true),
        ])
    func task(from: TaskStatus, to: TaskStatus, allowed: Bool) {
        #expect(from.canMove(to: to) == allowed)
        if !allowed {
            #expect(
                from.moving(to: to)
                    == .failure(
                        TransitionError(
                            subject: "task", from: from.rawValue, to: to.rawValue,
                            allowed: from.allowedNextInOrder.map(\.rawValue))))
        }
    }

    @Test("a refused move names the moves that are allowed, in words without type names")
    func refusalNamesAllowedMoves() {
        guard case .failure(let error) = TaskStatus.onHold.moving(to: .completed) else {
            Issue.record("on-hold to completed was allowed"); return
        }
        #expect(
            error.description
                == """
                a task that is on-hold cannot move to completed; from on-hold it can move to requested, accepted, \
                in-progress, cancelled, failed
                """
        )
        guard case .failure(let final) = ReferralStatus.completed.moving(to: .cancelled) else {
            Issue.record("completed to cancelled was allowed"); return
        }
        #expect(
            final.description
                == """
                a referral that is completed cannot move to cancelled; completed is final: it does not move any more
                """
        )
        #expect(!error.description.contains("TaskStatus") && !final.description.contains("ReferralStatus"))
    }

    @Test("cancelling or failing a task needs a reason; the other moves do not", arguments: TaskStatus.allCases)
    func reasons(status: TaskStatus) {
        #expect(status.needsReason == (status == .cancelled || status == .failed))
    }

    @Test(
        "referral status transitions",
        arguments: [
            (ReferralStatus.requested, ReferralStatus.accepted, true), (.accepted, .scheduled, true),
            (.scheduled, .inCourse, true),
            (.inCourse, .completed, true), (.requested, .declined, true), (.requested, .completed, false),
            (.completed, .cancelled, false), (.declined, .accepted, false), (.scheduled, .accepted, false),
        ])
    func referral(from: ReferralStatus, to: ReferralStatus, allowed: Bool) {
        #expect(from.canMove(to: to) == allowed)
    }

    @Test(
        "patient status transitions",
        arguments: [
            (PatientStatus.enrolled, PatientStatus.active, true), (.active, .relapsePrevention, true),
            (.relapsePrevention, .active, true), (.active, .discharged, true), (.discharged, .active, true),
            (.enrolled, .relapsePrevention, false), (.discharged, .relapsePrevention, false),
        ])
    func patient(from: PatientStatus, to: PatientStatus, allowed: Bool) {
        #expect(from.canMove(to: to) == allowed)
    }

    @Test("terminal task statuses are not open", arguments: TaskStatus.allCases)
    func openness(status: TaskStatus) {
        #expect(status.isOpen == ![.completed, .cancelled, .failed].contains(status))
    }

    @Test("priorities order routine < urgent < asap < stat")
    func priorities() {
        #expect(TaskPriority.allCases.sorted() == [.routine, .urgent, .asap, .stat])
    }
}

@Suite("Causes in words")
struct WordingTests {
    let start = Date(timeIntervalSince1970: 1_780_000_000)

    @Test(
        """
        a failed trial reads as drug, outcome, weeks and dose; psychotherapy by sessions; treatment resistance by \
        trials and classes
        """
    )
    func causes() throws {
        let rules = TrialRules()
        let medication = TrialFacts(
            kind: .medication, drug: "venlafaxine",
            doses: [
                DoseStep(from: start, dailyDoseMg: 75),
                DoseStep(from: start.addingTimeInterval(14 * 86_400), dailyDoseMg: 150),
            ],
            start: start, stop: start.addingTimeInterval(12 * 7 * 86_400), adherence: 0.9, outcome: .nonResponse)
        let adequacy = try rules.adequacy(of: medication, doseTable: .default, asOf: medication.stop!)
        #expect(
            Wording.failedTrial(medication, treatment: "venlafaxine", outcome: .nonResponse, adequacy: adequacy)
                == "venlafaxine, non-response after 12 weeks at 150 mg")
        let therapy = TrialFacts(
            kind: .psychotherapy, start: start, stop: start.addingTimeInterval(16 * 7 * 86_400),
            outcome: .partialResponse, sessions: 14)
        let therapyAdequacy = try rules.adequacy(of: therapy, doseTable: .default, asOf: therapy.stop!)
        #expect(
            Wording.failedTrial(therapy, treatment: "CBT", outcome: .partialResponse, adequacy: therapyAdequacy)
                == "CBT, partial response after 14 sessions")
        #expect(
            Wording.treatmentResistance(failedTrials: 2, classes: [.ssri, .snri])
                == "2 failed adequate trials in 2 classes (SNRI, SSRI)")
        #expect(
            Wording.treatmentResistance(failedTrials: 3, classes: [.ssri, .ssri, .multimodal])
                == "3 failed adequate trials in 2 classes (SSRI, multimodal)")
        // Every event has words, none of them its code.
        for type in EventType.allCases {
            #expect(!type.inWords.contains(".") && !type.inWords.contains("_"), "\(type)")
        }
        let plans = Playbook.default.handoffs(
            for: PlaybookEvent(
                type: .trialFailed, occurredAt: start, summary: "venlafaxine, non-response after 12 weeks"))
        #expect(plans.allSatisfy { $0.reason == "Failed trial: venlafaxine, non-response after 12 weeks" })
    }
}
