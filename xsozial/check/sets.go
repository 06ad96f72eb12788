package check

// The hash sets PTX keeps across BGs, small enough for 100k BGs in a
// streaming check.

// hashStr is FNV-1a over s and n. Fixed, so results do not depend on the
// process; with 64 bits a collision among a million keys has a chance of
// about 3·10⁻⁸, which would hide one duplicate, never invent one.
func hashStr(s string, n int) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	for i := 0; i < 4; i++ {
		h ^= uint64(byte(n >> (8 * i)))
		h *= 1099511628211
	}
	return h
}

// maskSet maps 60-bit hashes to a 4-bit mask in one 8-byte slot: a person
// and the window months it was seen in. About 250k persons for 100k BGs
// take 4 MiB, a quarter of a set of (person, month) pairs.
type maskSet struct {
	slots []uint64
	n     int
}

const maskBits = 0xF

// add sets bit for key h and reports whether it was not set before.
func (s *maskSet) add(h, bit uint64) bool {
	key := h &^ maskBits
	if key == 0 {
		key = maskBits + 1
	}
	if s.n*4 >= len(s.slots)*3 {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := (key >> 4) & mask; ; i = (i + 1) & mask {
		v := s.slots[i]
		switch {
		case v == 0:
			s.slots[i] = key | bit
			s.n++
			return true
		case v&^maskBits == key:
			if v&bit != 0 {
				return false
			}
			s.slots[i] = v | bit
			return true
		}
	}
}

func (s *maskSet) grow() {
	old := s.slots
	size := 1 << 12
	if len(old) > 0 {
		size = len(old) * 2
	}
	s.slots = make([]uint64, size)
	mask := uint64(size - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		for i := (v >> 4) & mask; ; i = (i + 1) & mask {
			if s.slots[i] == 0 {
				s.slots[i] = v
				break
			}
		}
	}
}

// hashSet is an open-addressing set of 64-bit hashes, 8 bytes a slot: a
// Go map of the same keys costs 2–4× as much, and the check must stay
// under 64 MiB for 100k BGs (≈ 900k person months).
type hashSet struct {
	slots []uint64
	n     int
}

// add inserts h and reports whether it was new.
func (s *hashSet) add(h uint64) bool {
	if h == 0 {
		h = 1
	}
	if s.n*4 >= len(s.slots)*3 {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case 0:
			s.slots[i] = h
			s.n++
			return true
		case h:
			return false
		}
	}
}

func (s *hashSet) grow() {
	old := s.slots
	size := 1 << 12
	if len(old) > 0 {
		size = len(old) * 2
	}
	s.slots = make([]uint64, size)
	s.n = 0
	for _, h := range old {
		if h != 0 {
			s.add(h)
		}
	}
}
