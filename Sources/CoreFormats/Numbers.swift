/// Numbers as people write them, one way for the whole program.
extension Double {
    /// 100, 37.5: a dose (or any amount) as a clinician writes it, without a trailing ".0". The
    /// CLI, the "today" inbox and FHIR's dosage text all say a dose this way.
    public var plainText: String {
        self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self)
    }
}
