import CareStore

// The store's types whose names CareWire's resources share, named apart for the files that
// import both (inside them `CareStore.X` would mean a member of the CareStore struct).
typealias StoreCarePlan = CarePlan
typealias StoreCorrection = Correction
typealias StoreEnteredInError = EnteredInError
