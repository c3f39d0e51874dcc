//! Who is on the other end of a socket, as established at the upgrade.

pub use cms_domain::Role;

/// An authenticated user on a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    pub name: String,
    pub role: Role,
    /// The login session (token id) the socket was opened with; logout of
    /// that session closes the socket.
    pub session_id: String,
}
