@_exported import CareWire
import Foundation

// The API's resources are CareWire's (one definition with the server).

extension Trial {
    /// The drug, or the therapy's name where a drug would be.
    public var treatment: String { drug ?? therapy ?? kind }
}
