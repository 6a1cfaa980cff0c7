import CareDomain
import Testing

@Suite("PHQ-9, MADRS and GAD-7 scoring")
struct MeasurementTests {
    @Test(
        "PHQ-9 items are summed",
        arguments: [
            ([0, 0, 0, 0, 0, 0, 0, 0, 0], 0),
            ([1, 2, 0, 1, 3, 0, 1, 2, 0], 10),
            ([3, 3, 3, 3, 3, 3, 3, 3, 3], 27),
        ])
    func phq9Total(items: [Int], total: Int) throws {
        #expect(try Score(.phq9, items: items).total == total)
    }

    @Test(
        "bad item answers are refused with the item named",
        arguments: [
            ([0, 0, 0], "has 9 items, got 3"),
            ([0, 0, 0, 0, 4, 0, 0, 0, 0], "item 5 must be 0 to 3, got 4"),
            ([0, 0, 0, 0, 0, 0, 0, 0, -1], "item 9 must be 0 to 3, got -1"),
        ])
    func badItems(items: [Int], message: String) {
        let error = #expect(throws: MeasurementError.self) { try Score(.phq9, items: items) }
        #expect(error?.description.contains(message) == true)
    }

    @Test(
        "totals outside the scale are refused",
        arguments: [(Instrument.phq9, 28), (.madrs, 61), (.madrs, -1), (.gad7, 22)])
    func badTotals(instrument: Instrument, total: Int) {
        #expect(throws: MeasurementError.self) { try Score(instrument, total: total) }
    }

    @Test(
        "PHQ-9 severity bands at every boundary",
        arguments: [
            (0, Severity.minimal), (4, .minimal), (5, .mild), (9, .mild), (10, .moderate), (14, .moderate),
            (15, .moderatelySevere), (19, .moderatelySevere), (20, .severe), (27, .severe),
        ])
    func phq9Bands(total: Int, severity: Severity) throws {
        #expect(try Score(.phq9, total: total).severity == severity)
    }

    @Test(
        "MADRS severity bands",
        arguments: [
            (6, Severity.minimal), (7, .mild), (19, .mild), (20, .moderate), (34, .moderate), (35, .severe),
            (60, .severe),
        ])
    func madrsBands(total: Int, severity: Severity) throws {
        #expect(try Score(.madrs, total: total).severity == severity)
    }

    @Test(
        "remission is PHQ-9 below 5 and MADRS below 10",
        arguments: [
            (Instrument.phq9, 4, true), (.phq9, 5, false), (.madrs, 9, true), (.madrs, 10, false), (.gad7, 0, false),
        ])
    func remission(instrument: Instrument, total: Int, inRemission: Bool) throws {
        #expect(try Score(instrument, total: total).isRemission == inRemission)
    }

    @Test(
        "PHQ-9 item 9 above 0 is a safety signal",
        arguments: [
            ([0, 0, 0, 0, 0, 0, 0, 0, 0], false), ([3, 3, 3, 3, 3, 3, 3, 3, 0], false),
            ([0, 0, 0, 0, 0, 0, 0, 0, 1], true), ([0, 0, 0, 0, 0, 0, 0, 0, 3], true),
        ])
    func safetySignal(items: [Int], signal: Bool) throws {
        #expect(try Score(.phq9, items: items).isSafetySignal == signal)
    }

    @Test("a PHQ-9 recorded as a total only carries no safety signal, and MADRS never does")
    func noItemsNoSignal() throws {
        #expect(try Score(.phq9, total: 20).isSafetySignal == false)
        #expect(try Score(.madrs, items: [6, 6, 6, 6, 6, 6, 6, 6, 6, 6]).isSafetySignal == false)
    }

    @Test(
        "response against baseline at the 50% and 25% boundaries",
        arguments: [
            (20, 10, ResponseCategory.response),  // exactly 50%
            (20, 11, .partialResponse),  // 45%
            (20, 15, .partialResponse),  // exactly 25%
            (20, 16, .nonResponse),  // 20%
            (20, 24, .nonResponse),  // worse
            (20, 4, .remission),  // below 5
            (8, 5, .partialResponse),  // 37.5%, 5 is not remission
            (8, 4, .remission),
        ])
    func response(baseline: Int, latest: Int, category: ResponseCategory) throws {
        let assessment = try ResponseRules().assess(
            baseline: Score(.phq9, total: baseline), latest: Score(.phq9, total: latest))
        #expect(assessment.category == category)
        #expect(assessment.inputs["baseline"] == "\(baseline)")
        #expect(assessment.inputs["latest"] == "\(latest)")
    }

    @Test("MADRS response and remission use MADRS's own line")
    func madrsResponse() throws {
        let rules = ResponseRules()
        #expect(
            try rules.assess(baseline: Score(.madrs, total: 30), latest: Score(.madrs, total: 15)).category == .response
        )
        #expect(
            try rules.assess(baseline: Score(.madrs, total: 30), latest: Score(.madrs, total: 9)).category == .remission
        )
        #expect(throws: MeasurementError.self) {
            try rules.assess(baseline: Score(.madrs, total: 30), latest: Score(.phq9, total: 9))
        }
    }
}
