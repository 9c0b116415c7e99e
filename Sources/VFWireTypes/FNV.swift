/// FNV-1a, 64 bits: a name derived from a key that is the same in every process and on every
/// host (Swift's Hasher is seeded per process). Not for anything an attacker may choose to
/// collide: callers keep the key itself beside its hash.
public func fnv1a<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}
