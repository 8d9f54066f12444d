//! Random frames, seeded: mostly well-formed TCP/UDP over IPv4 or IPv6
//! (with or without an 802.1Q tag) toward the VIPs or near them, each field
//! now and then wrong, truncated, padded or flipped at random bytes, so that
//! every check of the parser is crossed both ways.
use crate::services::{TCP, UDP, VIPS};

/// splitmix64: small, seeded, and the same on every machine.
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (> 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent` %.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }

    /// Fewer than `max` random bytes.
    fn some_bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max);
        self.bytes(n)
    }
}

/// One random frame.
pub fn frame(rng: &mut Rng) -> Vec<u8> {
    let mut frame = rng.bytes(12); // MAC addresses
    if rng.chance(20) {
        frame.extend([0x81, 0x00, rng.byte() & 0x0f, rng.byte()]);
    }
    let vip = &VIPS[rng.below(VIPS.len())];
    let v6 = match rng.below(10) {
        0 => {
            // Another EtherType (ARP, a second tag, anything).
            let other = [[0x08, 0x06], [0x81, 0x00], [rng.byte(), rng.byte()]];
            frame.extend(other[rng.below(3)]);
            frame.extend(rng.some_bytes(80));
            return mutate(rng, frame);
        }
        1 => !vip.v6,
        _ => vip.v6,
    };
    let proto = match rng.below(10) {
        0 => rng.byte(),
        1..=5 => vip.proto,
        _ => [TCP, UDP][rng.below(2)],
    };
    let mut l4 = Vec::new();
    let sport = [1024 + rng.below(32) as u16, rng.next() as u16][usize::from(rng.chance(10))];
    let dport = match rng.below(10) {
        0..=6 if vip.port != 0 => vip.port,
        _ => rng.next() as u16,
    };
    l4.extend(sport.to_be_bytes());
    l4.extend(dport.to_be_bytes());
    let header = if proto == UDP { 8 } else { 20 };
    l4.extend(rng.bytes(header - 4));
    if proto == TCP {
        l4[12] = 0x50;
        // Mostly SYN or ACK, sometimes FIN/RST or anything.
        l4[13] = [0x02, 0x10, 0x11, 0x04, rng.byte()][rng.below(5)];
    }
    l4.extend(rng.some_bytes(64));
    let dst = match (rng.chance(85), vip.v6 == v6) {
        (true, true) => vip.addr.to_vec(),
        _ => rng.bytes(if v6 { 16 } else { 4 }),
    };
    let mut src = client(rng, v6);
    if rng.chance(5) {
        src = rng.bytes(src.len());
    }
    if v6 {
        frame.extend([0x86, 0xdd]);
        let len = l4.len() as u16;
        let mut ip = vec![
            0x60 | (rng.byte() & 0x0f),
            rng.byte(),
            rng.byte(),
            rng.byte(),
        ];
        ip.extend(len.to_be_bytes());
        ip.extend([proto, rng.byte()]);
        ip.extend(&src);
        ip.extend(&dst);
        frame.extend(ip);
    } else {
        frame.extend([0x08, 0x00]);
        let len = (l4.len() + 20) as u16;
        let frags = [0x4000u16, 0, 0x2000, rng.next() as u16][rng.below(4)];
        let mut ip = vec![0x45, rng.byte()];
        ip.extend(len.to_be_bytes());
        ip.extend(rng.bytes(2));
        ip.extend(frags.to_be_bytes());
        ip.extend([rng.byte(), proto, rng.byte(), rng.byte()]);
        ip.extend(&src);
        ip.extend(&dst);
        frame.extend(ip);
    }
    frame.extend(l4);
    mutate(rng, frame)
}

/// A client address: one of a few, so that flows come back.
fn client(rng: &mut Rng, v6: bool) -> Vec<u8> {
    let host = 1 + rng.below(16) as u8;
    match v6 {
        true => [
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, host,
        ]
        .to_vec(),
        false => vec![198, 51, 100, host],
    }
}

/// Sometimes breaks the frame: a wrong length, flipped bytes, a cut, padding.
fn mutate(rng: &mut Rng, mut frame: Vec<u8>) -> Vec<u8> {
    let l3 = if frame[12..14] == [0x81, 0x00] {
        18
    } else {
        14
    };
    if rng.chance(10) && frame.len() >= l3 + 6 {
        // The IP length fields: IPv4 total length at +2, IPv6 payload at +4.
        let at = l3 + [2, 4][rng.below(2)];
        frame[at] = rng.byte();
        frame[at + 1] = rng.byte();
    }
    if rng.chance(15) {
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(frame.len());
            frame[at] = rng.byte();
        }
    }
    if rng.chance(10) {
        frame.truncate(14 + rng.below(frame.len() - 13));
    }
    if rng.chance(10) {
        frame.extend(rng.some_bytes(40));
    }
    frame
}
