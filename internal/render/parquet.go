package render

import (
	"bufio"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// RowGroupRows is how many rows each Parquet row group holds. It is also
// how many rows the writer keeps in memory at once.
const RowGroupRows = 64 * 1024

func writeParquet(w io.Writer, rows Rows, mem memory.Allocator) (int64, error) {
	b := newBatcher(rows, mem, RowGroupRows)
	defer b.release()
	props := parquet.NewWriterProperties(
		parquet.WithAllocator(mem),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(RowGroupRows),
		parquet.WithCreatedBy("edp"),
	)
	// The file writer closes its sink if it can; wrapping in bufio keeps
	// it from closing os.Stdout, and batches the many small writes.
	bw := bufio.NewWriterSize(w, 1<<20)
	fw, err := pqarrow.NewFileWriter(b.schema, bw, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		return 0, fmt.Errorf("start parquet file: %w", err)
	}
	n, err := b.each(func(rec arrow.RecordBatch) error {
		if err := fw.Write(rec); err != nil {
			return fmt.Errorf("write parquet row group: %w", err)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	if err := fw.Close(); err != nil {
		return n, fmt.Errorf("finish parquet file: %w", err)
	}
	return n, bw.Flush()
}
