/// What a representation answers: upstream's views differ between the answer to a create or an update and a
/// show or list, because its contrib extensions add their attributes to some actions only.
enum ViewForm: Sendable {
    /// show, and the detailed list
    case shown
    /// the short list form
    case summary
    /// the answer to a create
    case created
    /// the answer to an update
    case updated
}
