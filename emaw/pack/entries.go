package pack

import (
	"bytes"
	"encoding/binary"
)

// This file counts a ZIP archive's central directory records without
// building them, so that Open refuses an archive with too many entries
// before archive/zip allocates a File (a few hundred bytes) for each
// 46-byte record.

var (
	sigDirEnd       = []byte("PK\x05\x06")
	sigDir64Locator = []byte("PK\x06\x07")
	sigDir64End     = []byte("PK\x06\x06")
	sigDirRecord    = []byte("PK\x01\x02")
)

const (
	dirEndLen    = 22 // end of central directory record, without comment
	dirRecordLen = 46 // central directory record, without name, extra, comment
)

// countEntries counts the central directory records of data, stopping once
// it has counted more than limit. It finds the directory the way
// archive/zip does (the end record nearest the end, ZIP64 when the fields
// say so, and the directory at its stated offset or just before the end
// record) and walks the records from there as archive/zip will. It returns
// 0 when there is no directory to find; archive/zip then refuses the
// archive itself.
func countEntries(data []byte, limit int) int {
	end := findDirEnd(data)
	if end < 0 {
		return 0
	}
	size := uint64(binary.LittleEndian.Uint32(data[end+12:]))
	offset := uint64(binary.LittleEndian.Uint32(data[end+16:]))
	if size == 0xffffffff || offset == 0xffffffff || binary.LittleEndian.Uint16(data[end+10:]) == 0xffff {
		if l := end - 20; l >= 0 && bytes.HasPrefix(data[l:], sigDir64Locator) {
			if p := binary.LittleEndian.Uint64(data[l+8:]); p < uint64(len(data)) && uint64(len(data))-p >= 56 && bytes.HasPrefix(data[p:], sigDir64End) {
				size = binary.LittleEndian.Uint64(data[p+40:])
				offset = binary.LittleEndian.Uint64(data[p+48:])
				end = int(p)
			}
		}
	}
	n := countRecords(data, offset, limit)
	if size <= uint64(end) {
		n = max(n, countRecords(data, uint64(end)-size, limit))
	}
	return n
}

// findDirEnd returns the offset of the end of central directory record, or
// -1: the last signature, searched back over the longest comment, whose
// comment fits in the data.
func findDirEnd(data []byte) int {
	lo := max(0, len(data)-dirEndLen-0xffff)
	for p := len(data) - dirEndLen; p >= lo; p-- {
		if bytes.HasPrefix(data[p:], sigDirEnd) && p+dirEndLen+int(binary.LittleEndian.Uint16(data[p+20:])) <= len(data) {
			return p
		}
	}
	return -1
}

// countRecords counts consecutive directory records from off, up to
// limit+1.
func countRecords(data []byte, off uint64, limit int) int {
	n := 0
	for n <= limit && off < uint64(len(data)) && uint64(len(data))-off >= dirRecordLen && bytes.HasPrefix(data[off:], sigDirRecord) {
		r := data[off:]
		off += dirRecordLen + uint64(binary.LittleEndian.Uint16(r[28:])) + uint64(binary.LittleEndian.Uint16(r[30:])) + uint64(binary.LittleEndian.Uint16(r[32:]))
		n++
	}
	return n
}
