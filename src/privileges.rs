//! `-Z USER`: give up root once the capture handle and the output are open, as tcpdump does.
//! Only the open handles keep their privilege; a compromise of the decoders after this point
//! runs as an unprivileged user.

use nix::unistd::{self, Gid, Uid, User};
use std::ffi::CString;

/// Checks that `name` exists before anything opens (the switch itself comes later). The error
/// is the name.
pub fn check_user(name: &str) -> Result<(), String> {
    match User::from_name(name) {
        Ok(Some(_)) => Ok(()),
        _ => Err(name.to_owned()),
    }
}

/// Switches the whole process to `name`'s uid, primary gid and supplementary groups.
pub fn drop_to(name: &str) -> Result<(), String> {
    let user = User::from_name(name)
        .map_err(|e| format!("cannot look up user '{name}': {e}"))?
        .ok_or_else(|| format!("no such user '{name}' (-Z)"))?;
    if unistd::geteuid() == user.uid {
        return Ok(());
    }
    if !unistd::geteuid().is_root() {
        return Err(format!(
            "-Z {name}: only root can switch users (running as uid {})",
            unistd::geteuid()
        ));
    }
    let cname = CString::new(name).map_err(|_| format!("bad user name '{name}'"))?;
    // Groups first: after setuid there is no privilege left to change them.
    unistd::initgroups(&cname, user.gid)
        .map_err(|e| format!("-Z {name}: cannot set supplementary groups: {e}"))?;
    unistd::setgid(user.gid).map_err(|e| format!("-Z {name}: setgid: {e}"))?;
    unistd::setuid(user.uid).map_err(|e| format!("-Z {name}: setuid: {e}"))?;
    // Refuse to go on if the switch can be undone.
    if unistd::setuid(Uid::from_raw(0)).is_ok() || unistd::setgid(Gid::from_raw(0)).is_ok() {
        return Err(format!(
            "-Z {name}: root privileges could be regained; refusing to run"
        ));
    }
    tracing::info!(user = name, uid = user.uid.as_raw(), "dropped privileges");
    Ok(())
}
