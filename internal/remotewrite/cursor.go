package remotewrite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// cursor is the position of the first sample the receiver has not
// acknowledged: a record's offset in a segment and the number of the
// record's samples already acknowledged (a request may end mid-record).
type cursor struct {
	Segment uint64
	Offset  int64
	Sample  uint32
}

const (
	cursorFile  = "cursor"
	cursorMagic = "TWRC"
	cursorSize  = 4 + 8 + 8 + 4 + 4
)

func (c cursor) String() string {
	return fmt.Sprintf("segment %d offset %d sample %d", c.Segment, c.Offset, c.Sample)
}

func (c cursor) marshal() []byte {
	b := make([]byte, 0, cursorSize)
	b = append(b, cursorMagic...)
	b = binary.LittleEndian.AppendUint64(b, c.Segment)
	b = binary.LittleEndian.AppendUint64(b, uint64(c.Offset))
	b = binary.LittleEndian.AppendUint32(b, c.Sample)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func unmarshalCursor(b []byte) (cursor, error) {
	if len(b) != cursorSize {
		return cursor{}, fmt.Errorf("cursor file is %d bytes, want %d", len(b), cursorSize)
	}
	if string(b[:4]) != cursorMagic {
		return cursor{}, errors.New("cursor file has a bad magic number")
	}
	if crc32.Checksum(b[:cursorSize-4], castagnoli) != binary.LittleEndian.Uint32(b[cursorSize-4:]) {
		return cursor{}, errors.New("cursor file fails its checksum")
	}
	c := cursor{
		Segment: binary.LittleEndian.Uint64(b[4:12]),
		Offset:  int64(binary.LittleEndian.Uint64(b[12:20])),
		Sample:  binary.LittleEndian.Uint32(b[20:24]),
	}
	if c.Offset < 0 {
		return cursor{}, fmt.Errorf("cursor file holds a negative offset %d", c.Offset)
	}
	return c, nil
}

// readCursor reads the cursor file of dir. ok is false when there is none.
func readCursor(dir string) (c cursor, ok bool, err error) {
	b, err := readFileLimited(filepath.Join(dir, cursorFile), 4096)
	if errors.Is(err, os.ErrNotExist) {
		return cursor{}, false, nil
	}
	if err != nil {
		return cursor{}, false, err
	}
	c, err = unmarshalCursor(b)
	return c, err == nil, err
}

// writeCursor replaces the cursor file atomically: write a temporary file
// and rename it over the old one. When durable, the file is fsynced before
// the rename and the directory after it, so that the new cursor survives a
// machine crash; otherwise it survives a crash of the process only.
func writeCursor(dir string, c cursor, durable bool) error {
	tmp := filepath.Join(dir, cursorFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("writing queue cursor: %w", err)
	}
	_, err = f.Write(c.marshal())
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, cursorFile))
	}
	if err == nil && durable {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("writing queue cursor: %w", err)
	}
	return nil
}

// syncDir fsyncs a directory, making created, renamed and removed entries
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
