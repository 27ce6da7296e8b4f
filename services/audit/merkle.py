"""The Merkle tree over the audit log, hashed as RFC 6962 / RFC 9162 (Certificate Transparency).

- leaf hash  = SHA-256(0x00 || leaf bytes)
- node hash  = SHA-256(0x01 || left || right)
- the root of a tree of n leaves splits at k, the largest power of two below n.

The service stores the root of every *complete* aligned subtree (level L, index i covers leaves
[i * 2**L, (i + 1) * 2**L)) as soon as its last leaf is appended: about two stored nodes per leaf.
Every hash an inclusion or consistency proof needs is the root of a range of leaves that splits
into at most log2(n) such complete subtrees, so the server answers any proof with O(log n)
lookups and never holds the tree in memory. This module is pure: the ranges a proof needs, how
a range splits into stored nodes, and the verifiers (which need nothing but hashlib).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

# (level, index): the complete subtree of 2**level leaves starting at leaf index * 2**level.
NodeKey = tuple[int, int]
# [start, end): a range of leaf indexes whose Merkle tree hash a proof carries.
LeafRange = tuple[int, int]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two strictly below `size` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) straight from the RFC's recursive definition, over leaf hashes (reference only)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = split_point(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def stored_nodes(start: int, end: int) -> list[NodeKey]:
    """The complete subtrees, left to right, whose roots fold (from the right) into MTH(D[start:end]).

    Holds for every range a proof or a root needs: its start is a multiple of the power of two
    that bounds its size, so the binary digits of (end - start) are aligned subtrees.
    """
    keys: list[NodeKey] = []
    position = start
    remaining = end - start
    while remaining:
        level = remaining.bit_length() - 1
        keys.append((level, position >> level))
        position += 1 << level
        remaining -= 1 << level
    return keys


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its complete subtrees (largest first): the right-most pairs first."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def range_hash(start: int, end: int, lookup: Callable[[NodeKey], bytes]) -> bytes:
    if start == end:
        return EMPTY_ROOT
    return fold([lookup(key) for key in stored_nodes(start, end)])


def inclusion_ranges(index: int, size: int) -> list[LeafRange]:
    """PATH(index, D[size]) of RFC 6962 2.1.1 as leaf ranges, bottom-up (the order of the proof)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    path: list[LeafRange] = []
    low, high = 0, size
    while high - low > 1:
        k = split_point(high - low)
        if index < low + k:
            path.append((low + k, high))
            high = low + k
        else:
            path.append((low, low + k))
            low += k
    path.reverse()
    return path


def inclusion_paths(indexes: Iterable[int], size: int) -> dict[int, tuple[NodeKey, ...]]:
    """The same proofs as inclusion_ranges, bottom-up, as stored nodes: (level, index) for a
    complete subtree, or (-1, start) for the right edge [start, size), which is not complete.

    Walks up like the RFC 9162 verifier instead of splitting ranges top-down. From a given node
    upward every leaf under it has the same path, so each (level, node) is walked once per call and
    its suffix shared: neighbouring leaves (an export's batch) cost about two steps each, not
    log2(size).
    """
    paths: dict[int, tuple[NodeKey, ...]] = {}
    shared: dict[int, tuple[NodeKey, ...]] = {}  # fn << 6 | level -> the path from that node up
    for index in indexes:
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of size {size}")
        fn, sn, level = index, size - 1, 0
        walked: list[tuple[int, NodeKey | None]] = []
        suffix: tuple[NodeKey, ...] = ()
        while sn:
            key = fn << 6 | level
            known = shared.get(key)
            if known is not None:
                suffix = known
                break
            if fn & 1:
                walked.append((key, (level, fn - 1)))
            elif fn < sn:
                right = fn + 1
                walked.append((key, (level, right) if (right + 1) << level <= size else (-1, right << level)))
            else:
                walked.append((key, None))  # the right edge's last node: no sibling at this level
            fn >>= 1
            sn >>= 1
            level += 1
        for key, node in reversed(walked):
            if node is not None:
                suffix = (node, *suffix)
            shared[key] = suffix
        paths[index] = suffix
    return paths


def consistency_ranges(first: int, second: int) -> list[LeafRange]:
    """PROOF(first, D[second]) of RFC 6962 2.1.2 as leaf ranges, in proof order."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    path: list[LeafRange] = []
    low, high, m, complete = 0, second, first, True
    while m != high - low:
        k = split_point(high - low)
        if m <= k:
            path.append((low + k, high))
            high = low + k
        else:
            path.append((low, low + k))
            low += k
            m -= k
            complete = False
    if not complete:
        path.append((low, high))
    path.reverse()
    return path


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> bool:
    """RFC 9162 2.1.4.2 (first > 0: an empty tree is consistent with anything and proves nothing)."""
    if first <= 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


class InclusionVerifier:
    """Checks many inclusion proofs against one root, remembering the nodes already proven.

    A node whose hash was proven to lead to the root proves any leaf whose path reaches it, so
    a proof stops at the first remembered node instead of climbing to the root: an export in
    leaf order costs about two hashes per event instead of log2(n). Only nodes to the right of
    the last leaf are kept (later leaves can reach nothing else), so memory stays O(log n).
    """

    PRUNE_EVERY = 4096
    FAILED = "inclusion proof does not lead to the signed root"

    def __init__(self, size: int, root: bytes) -> None:
        self.size = size
        self.root = root
        # node (level, index) -> hash, keyed by index << 6 | level (cheaper than tuples)
        self._proven: dict[int, bytes] = {}
        self._checked = 0

    def verify(self, index: int, leaf: bytes, proof: Sequence[str]) -> str | None:
        """None when `leaf` is at `index` under the root; otherwise why not. `proof` is hex."""
        if not 0 <= index < self.size:
            return f"leaf index {index} is outside the signed tree of size {self.size}"
        proven = self._proven
        known = proven.get(index << 6)
        if known is not None:
            return None if known == leaf else self.FAILED
        sha256 = hashlib.sha256
        fn, sn, level, r = index, self.size - 1, 0, leaf
        seen: dict[int, bytes] = {}
        for item in proof:
            if sn == 0:
                return "inclusion proof is longer than the tree is deep"
            try:
                p = bytes.fromhex(item)
            except (TypeError, ValueError):
                return "inclusion proof holds something that is not a hex hash"
            if fn & 1 or fn == sn:
                r = sha256(NODE_PREFIX + p + r).digest()
                if not fn & 1:
                    while not (fn & 1 or fn == 0):
                        fn >>= 1
                        sn >>= 1
                        level += 1
            else:
                seen[(fn + 1) << 6 | level] = p  # a right sibling: later leaves climb through it
                r = sha256(NODE_PREFIX + r + p).digest()
            fn >>= 1
            sn >>= 1
            level += 1
            key = fn << 6 | level
            known = proven.get(key)
            if known is not None:
                if known != r:
                    return self.FAILED
                break
            seen[key] = r
        else:
            if sn != 0 or r != self.root:
                return self.FAILED
        proven.update(seen)
        self._checked += 1
        if self._checked % self.PRUNE_EVERY == 0:
            self._proven = {k: v for k, v in proven.items() if ((k >> 6) + 1) << (k & 63) > index + 1}
        return None


def hashes(items: Iterable[str]) -> list[bytes]:
    return [bytes.fromhex(item) for item in items]
