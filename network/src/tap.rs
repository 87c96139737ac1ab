//! A TAP device: an Ethernet interface whose frames a file descriptor
//! reads and writes. Made in the launcher's namespace and then moved into
//! a replica's, the descriptor keeps working, and the device disappears
//! when the descriptor closes: a killed launcher leaves no interface.

use std::os::fd::{FromRawFd, OwnedFd};

/// Opens `/dev/net/tun` as a new TAP device named `name` (at most 15
/// bytes), non-blocking, without packet information headers.
pub fn open(name: &str) -> std::io::Result<OwnedFd> {
    if name.len() >= libc::IFNAMSIZ {
        return Err(std::io::Error::other(format!(
            "interface name {name} is too long"
        )));
    }
    // SAFETY: a plain open(2) of a path literal; the result is checked.
    let raw = unsafe {
        libc::open(
            c"/dev/net/tun".as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` was just opened and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF takes a pointer to an ifreq, which lives across the call.
    let r = unsafe { libc::ioctl(raw, libc::TUNSETIFF, &mut req as *mut libc::ifreq) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}
