// Lab tests run as root with the tools installed; otherwise they are skipped with the reason.
import LVSTestSupport
import Testing

/// Lab tests are enabled only where they can run; the reason shows in the test report.
let labsAvailable: Bool = {
    if let reason = LabNetwork.unavailableReason {
        print("LabTests skipped: \(reason)")
        return false
    }
    return true
}()

extension Trait where Self == ConditionTrait {
    /// Skips a lab test with the reason when labs cannot run here.
    static var lab: ConditionTrait {
        .enabled(if: labsAvailable, Comment(rawValue: LabNetwork.unavailableReason ?? "labs available"))
    }
}

/// The lines of an `ipvsadm -Lnc` listing after its two header lines.
func connectionLines(_ listing: String) -> [[Substring]] {
    listing.split(separator: "\n").dropFirst(2).map { $0.split(separator: " ", omittingEmptySubsequences: true) }
}
