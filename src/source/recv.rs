//! UDP receive on Linux: datagrams in batches with `recvmmsg(2)`, the socket's kernel drop
//! count (`SO_MEMINFO`), the receive buffer (`SO_RCVBUF`, or `SO_RCVBUFFORCE` when allowed)
//! and `SO_REUSEPORT`. The only `unsafe` of the listeners is here, each call with its reason.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

/// The largest UDP payload (IPv4: 65,507 bytes; a slot of 64 KiB holds every datagram).
pub const MAX_DATAGRAM: usize = 65536;

/// How long a blocking receive waits before it returns (so the thread can see a stop).
const RECV_TIMEOUT: Duration = Duration::from_millis(100);

/// A blocking UDP socket bound to `addr`, with `SO_REUSEPORT` when `shared`, and a receive
/// timeout of [`RECV_TIMEOUT`].
pub fn udp_socket(addr: SocketAddr, shared: bool) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if shared {
        setsockopt_int(socket.as_raw_fd(), libc::SO_REUSEPORT, 1)?;
    }
    socket.bind(&addr.into())?;
    socket.set_read_timeout(Some(RECV_TIMEOUT))?;
    Ok(socket.into())
}

fn setsockopt_int(fd: RawFd, option: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `value` is a live c_int and its size is passed; the kernel only reads it.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Asks for a receive buffer of `bytes` (`SO_RCVBUFFORCE` first, which passes
/// `net.core.rmem_max` with `CAP_NET_ADMIN`; else `SO_RCVBUF`) and returns what the kernel
/// granted (it reports twice the usable size; this returns the requested-size equivalent).
pub fn set_recv_buffer(socket: &UdpSocket, bytes: usize) -> usize {
    let fd = socket.as_raw_fd();
    let want = bytes.min(i32::MAX as usize / 2) as libc::c_int;
    if setsockopt_int(fd, libc::SO_RCVBUFFORCE, want).is_err() {
        let _ = setsockopt_int(fd, libc::SO_RCVBUF, want);
    }
    socket2::SockRef::from(socket)
        .recv_buffer_size()
        .map_or(0, |n| n / 2)
}

/// The socket's cumulative kernel drop count, as deltas since the last call.
pub struct KernelDrops {
    last: u32,
}

/// `SO_MEMINFO` (include/uapi/asm-generic/socket.h; the same on x86, arm and riscv).
const SO_MEMINFO: libc::c_int = 55;
/// `SK_MEMINFO_DROPS`: the index of `sk_drops` in the `SO_MEMINFO` array.
const SK_MEMINFO_DROPS: usize = 8;

impl KernelDrops {
    pub fn new(socket: &UdpSocket) -> KernelDrops {
        KernelDrops {
            last: read_drops(socket).unwrap_or(0),
        }
    }

    /// Datagrams the kernel dropped for this socket since the last call (`sk_drops`: receive
    /// buffer full, bad checksum, out of memory). 0 when the kernel does not report them.
    pub fn new_drops(&mut self, socket: &UdpSocket) -> u64 {
        let Some(now) = read_drops(socket) else {
            return 0;
        };
        // A 32-bit counter in the kernel: wrapping difference.
        let delta = now.wrapping_sub(self.last);
        self.last = now;
        u64::from(delta)
    }
}

fn read_drops(socket: &UdpSocket) -> Option<u32> {
    let mut info = [0u32; 16];
    let mut len = size_of::<[u32; 16]>() as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes; the kernel writes at most `len` and updates it.
    let r = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_MEMINFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    (r == 0 && len as usize > SK_MEMINFO_DROPS * size_of::<u32>()).then(|| info[SK_MEMINFO_DROPS])
}

/// Buffers for one `recvmmsg(2)` call: `n` slots of `slot` bytes with their sender addresses.
pub struct Batch {
    slot: usize,
    bufs: Vec<u8>,
    iovs: Vec<libc::iovec>,
    names: Vec<libc::sockaddr_storage>,
    hdrs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers in `iovs` and `hdrs` point into `bufs`, `iovs` and `names` of the
// same Batch (heap memory that moves with it) and are rewritten before every call.
unsafe impl Send for Batch {}

impl Batch {
    pub fn new(n: usize, slot: usize) -> Batch {
        let n = n.max(1);
        let slot = slot.max(1);
        Batch {
            slot,
            bufs: vec![0u8; n * slot],
            // SAFETY (both): all-zero iovec, sockaddr_storage and mmsghdr are valid values
            // (null pointers, zero lengths).
            iovs: vec![unsafe { zeroed() }; n],
            names: vec![unsafe { zeroed() }; n],
            hdrs: (0..n).map(|_| unsafe { zeroed() }).collect(),
        }
    }

    /// Blocks until at least one datagram is there (or the receive timeout passes: an error of
    /// kind WouldBlock), then takes as many as are queued, up to the batch size.
    pub fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        let n = self.hdrs.len();
        let base = self.bufs.as_mut_ptr();
        for i in 0..n {
            // SAFETY: i * slot + slot <= bufs.len(), so the slot is inside the buffer.
            self.iovs[i] = libc::iovec {
                iov_base: unsafe { base.add(i * self.slot) }.cast(),
                iov_len: self.slot,
            };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = (&raw mut self.names[i]).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &raw mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
            self.hdrs[i].msg_len = 0;
        }
        // SAFETY: every header points at memory of this Batch that stays alive and unaliased
        // for the call; `n` is the number of headers.
        let r = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }

    /// Datagram `i` of the last [`Batch::recv`]: its bytes (at most the slot size), whether it
    /// was longer than that, and its sender.
    pub fn datagram(&self, i: usize) -> (&[u8], bool, IpAddr) {
        let h = &self.hdrs[i];
        let len = (h.msg_len as usize).min(self.slot);
        let truncated = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        let start = i * self.slot;
        (
            &self.bufs[start..start + len],
            truncated,
            sender_ip(&self.names[i]),
        )
    }
}

fn sender_ip(ss: &libc::sockaddr_storage) -> IpAddr {
    match libc::c_int::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large
            // enough and aligned for.
            let sin =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
        }
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_datagrams_with_senders_truncation_and_kernel_drops() {
        let rx = udp_socket("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let granted = set_recv_buffer(&rx, 4096);
        assert!(granted > 0);
        let mut drops = KernelDrops::new(&rx);
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        tx.send_to(b"one", to).unwrap();
        tx.send_to(b"two-is-longer", to).unwrap();
        let mut batch = Batch::new(8, 8);
        let mut got = Vec::new();
        while got.len() < 2 {
            let n = batch.recv(&rx).unwrap();
            for i in 0..n {
                let (b, t, ip) = batch.datagram(i);
                got.push((b.to_vec(), t, ip));
            }
        }
        assert_eq!(
            got[0],
            (b"one".to_vec(), false, IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(
            got[1],
            (b"two-is-l".to_vec(), true, IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        // A small buffer nobody reads overflows: every datagram sent is received or counted.
        let line = [b'x'; 1000];
        let sent = 2000u64;
        for _ in 0..sent {
            tx.send_to(&line, to).unwrap();
        }
        let mut received = 0u64;
        while let Ok(n) = batch.recv(&rx) {
            received += n as u64;
        }
        let dropped = drops.new_drops(&rx);
        assert!(dropped > 0, "a 4 KiB buffer must overflow");
        assert_eq!(received + dropped, sent);
    }
}
