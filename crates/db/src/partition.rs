//! Which hash partition of a PostgreSQL table a user's rows belong to, computed on the
//! client so that each COPY stream can fill one partition alone: a partition created or
//! truncated in the loading transaction takes `COPY … FREEZE`, and frozen rows need no
//! hint bits, so the index builds do not dirty (and the disk does not write) every heap
//! page a second time.
//!
//! Written by hand because no crate reproduces PostgreSQL's partition hash, and it must
//! match the server's bit for bit (a row in the wrong partition fails its partition
//! constraint): `hashint8extended` over Bob Jenkins' lookup3 (`hash_bytes_uint32_extended`)
//! seeded with `HASH_PARTITION_SEED`, folded by `hash_combine64`, modulo the number of
//! partitions (PostgreSQL's `compute_partition_hash_value` and `get_partition_for_tuple`).
//! The tests compare it with `satisfies_hash_partition` on a real server.

const HASH_PARTITION_SEED: u64 = 0x7A5B_2236_7996_DCFD;

/// The partition (0..`partitions`) that `PARTITION BY HASH (user_id)` with
/// `FOR VALUES WITH (MODULUS partitions, REMAINDER r)` puts `user_id` in.
pub(crate) fn of(user_id: i64, partitions: usize) -> usize {
    if partitions <= 1 {
        return 0;
    }
    let hash = hash_int8_extended(user_id, HASH_PARTITION_SEED);
    (hash_combine64(0, hash) % partitions as u64) as usize
}

fn hash_int8_extended(val: i64, seed: u64) -> u64 {
    let lo = val as u32;
    let hi = (val >> 32) as u32;
    hash_uint32_extended(lo ^ if val >= 0 { hi } else { !hi }, seed)
}

fn hash_uint32_extended(k: u32, seed: u64) -> u64 {
    let init = 0x9e37_79b9u32
        .wrapping_add(std::mem::size_of::<u32>() as u32)
        .wrapping_add(3_923_095);
    let (mut a, mut b, mut c) = (init, init, init);
    if seed != 0 {
        a = a.wrapping_add((seed >> 32) as u32);
        b = b.wrapping_add(seed as u32);
        mix(&mut a, &mut b, &mut c);
    }
    a = a.wrapping_add(k);
    finish(&mut a, &mut b, &mut c);
    ((b as u64) << 32) | c as u64
}

fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

/// lookup3's `final`.
fn finish(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

fn hash_combine64(a: u64, b: u64) -> u64 {
    a ^ b
        .wrapping_add(0x49a0_f4dd_15e5_a8e3)
        .wrapping_add(a << 54)
        .wrapping_add(a >> 7)
}

#[cfg(test)]
mod tests {
    use super::of;

    /// Read off PostgreSQL 15 with `satisfies_hash_partition` (the seed tests check many
    /// more ids on a live server: a row in the wrong partition fails the COPY).
    #[test]
    fn matches_the_server() {
        let three = [
            0,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
            9,
            1_000_000,
            123_456_789,
            4_294_967_295,
        ];
        let expect3 = [2, 2, 0, 1, 0, 2, 0, 1, 0, 2, 0, 1, 2];
        for (id, p) in three.iter().zip(expect3) {
            assert_eq!(of(*id, 3), p, "user {id}, 3 partitions");
        }
        let expect2 = [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1];
        for (id, p) in expect2.iter().enumerate() {
            assert_eq!(of(id as i64, 2), *p, "user {id}, 2 partitions");
        }
        assert_eq!(of(42, 1), 0);
    }
}
