package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edp-data/edp/internal/ingest"
	"github.com/edp-data/edp/internal/jobs"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/policy"
)

// maxFieldBytes caps one non-file field of a load form.
const maxFieldBytes = 64 << 10

// loadResult is what a finished load job returns.
type loadResult struct {
	Table    string `json:"table"`
	Created  bool   `json:"created"`
	Rows     int64  `json:"rows"`
	Rejected int64  `json:"rejected"`
	Files    int    `json:"files"`
}

// load receives files as multipart/form-data, spools them under TempDir
// and loads them with ingest.Load as a job: synchronously (200 with the
// result) or, with async=true, in the background (202 with the job).
// Like `edp load` it is one commit or nothing; the spooled files are
// removed when the job ends, whatever happens.
func (a *API) load(c *call) error {
	id := c.tableIdent()
	ct := c.r.Header.Get("Content-Type")
	mt, ctParams, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/form-data" || ctParams["boundary"] == "" {
		return newError(errUnsupportedMedia, "Content-Type must be multipart/form-data with a boundary, got %q", ct)
	}
	// Refuse before reading gigabytes from someone who may not write, or
	// (when the load would create the table) may not create it. ingest
	// asks again; these checks only make the refusal cheap.
	pres := policy.Resource{Namespace: id.Namespace, Table: id.Name}
	if err := a.authz.Authorize(c.ctx(), policy.Write, pres); err != nil {
		return err
	}
	exists, err := a.opts.Lake.TableExists(c.ctx(), id)
	if err != nil && !errors.Is(err, lake.ErrNoSuchNamespace) {
		return err
	}
	if !exists {
		if err := a.authz.Authorize(c.ctx(), policy.Admin, pres); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp(a.opts.TempDir, "upload-")
	if err != nil {
		return fmt.Errorf("spool upload: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	form, err := a.spool(c, dir, ctParams["boundary"])
	if err != nil {
		return err
	}
	c.detail("files", form.names)
	c.detail("bytes", form.bytes)
	c.detail("format", form.opts.Format)
	form.opts.Table = id
	form.opts.TargetFileSize = a.opts.Limits.TargetFileSize
	form.opts.MemoryLimit = a.opts.Limits.LoadMemoryLimit
	form.opts.TempDir = dir

	done := make(chan error, 1)
	requestID := c.requestID()
	job, err := a.opts.Jobs.Start(c.ctx(), "load", func(ctx context.Context, report func(jobs.Progress)) (any, error) {
		defer os.RemoveAll(dir)
		opts := form.opts
		opts.Job, _ = jobs.IDFromContext(ctx)
		opts.Progress = func(p ingest.Progress) {
			report(jobs.Progress{Done: p.Rows, Unit: "rows",
				Message: fmt.Sprintf("%d of %d input bytes read into %d written", min(p.InputBytes, form.bytes), form.bytes, p.WrittenBytes)})
		}
		res, err := ingest.Load(ctx, a.opts.Lake, opts)
		format := form.opts.Format
		if format == "" {
			format = "auto"
		}
		if err != nil {
			a.opts.Metrics.ObserveLoad(format, queryOutcome(err), 0, form.bytes)
			err = form.tidy(err)
			done <- err
			// The job's error is readable by its owner later: for the
			// server's own failures it says only where to look.
			if cl := classify(userFault(err), requestID); cl.status == http.StatusInternalServerError {
				a.log.ErrorContext(ctx, "load job failed", "job", opts.Job, "err", err)
				return nil, errors.New(cl.body.Message + " (request id " + requestID + ")")
			}
			return nil, err
		}
		a.opts.Metrics.ObserveLoad(format, "ok", res.Rows, form.bytes)
		done <- nil
		return loadResult{Table: res.Table.String(), Created: res.Created, Rows: res.Rows, Rejected: res.Rejected, Files: res.Files}, nil
	})
	if err != nil {
		return err
	}
	keep = true // the job owns the directory now
	c.detail("job_id", job.ID)
	if form.async {
		c.w.Header().Set("Location", "/api/v1/jobs/"+job.ID)
		return c.json(http.StatusAccepted, map[string]any{"job": job})
	}
	finished, err := a.opts.Jobs.Wait(c.ctx(), job.ID)
	if err != nil {
		// The client gave up: a synchronous load dies with its request.
		// Wait for it to end so nothing lingers, then say what really
		// happened: the load may have committed before the cancel landed.
		a.opts.Jobs.Cancel(job.ID)
		finished, _ = a.opts.Jobs.Wait(context.WithoutCancel(c.ctx()), job.ID)
		if finished.State != jobs.StateSucceeded {
			return fmt.Errorf("%w: the request was cancelled; load job %s was cancelled and committed nothing", context.Canceled, job.ID)
		}
		c.detail("note", "the client went away after the load committed")
	}
	job = finished
	var loadErr error
	select {
	case loadErr = <-done:
	default:
		loadErr = fmt.Errorf("load job %s: %s", job.ID, job.Error)
	}
	if loadErr != nil {
		err := userFault(loadErr)
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{err: err, msg: err.Error()}
		}
		ae.details = map[string]any{"job_id": job.ID}
		return ae
	}
	res, _ := job.Result.(loadResult)
	c.detail("rows", res.Rows)
	c.detail("rejected", res.Rejected)
	c.detail("created", res.Created)
	return c.json(http.StatusOK, map[string]any{"job": job, "result": res})
}

// loadForm is a parsed load request.
type loadForm struct {
	opts  ingest.Options
	async bool
	names []string // uploaded file names, as the client sent them
	bytes int64
	dir   string
}

// tidy rewrites the spool paths in an error message back to the names
// the client uploaded, keeping the error's identity.
func (f *loadForm) tidy(err error) error {
	msg := err.Error()
	for i, p := range f.opts.Files {
		msg = strings.ReplaceAll(msg, unescapeGlob(p), f.names[i])
	}
	msg = strings.ReplaceAll(msg, f.dir, "upload")
	if msg == err.Error() {
		return err
	}
	return &reworded{err: err, msg: msg}
}

// reworded is err with another message.
type reworded struct {
	err error
	msg string
}

func (r *reworded) Error() string { return r.msg }
func (r *reworded) Unwrap() error { return r.err }

// spool reads the multipart body: file parts go to dir, fields into the
// load options. The upload limit is enforced while reading.
func (a *API) spool(c *call, dir, boundary string) (*loadForm, error) {
	limit := a.opts.Limits.MaxUploadBytes
	// The fields and part headers get a little room beyond the files.
	body := http.MaxBytesReader(c.w, c.r.Body, limit+1<<20)
	mr := multipart.NewReader(body, boundary)
	f := &loadForm{dir: dir}
	var props []string
	tooLarge := func() error {
		return newError(errTooLarge, "upload is larger than the limit of %d bytes; nothing was loaded", limit)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				return nil, tooLarge()
			}
			return nil, invalidf("malformed multipart body: %v", err)
		}
		name := part.FormName()
		if name == "file" {
			upName := part.FileName()
			if upName == "" {
				return nil, invalidf("a file part needs a filename")
			}
			sub := filepath.Join(dir, strconv.Itoa(len(f.names)))
			if err := os.Mkdir(sub, 0o700); err != nil {
				return nil, fmt.Errorf("spool upload: %w", err)
			}
			path := filepath.Join(sub, safeFileName(upName))
			out, err := os.Create(path)
			if err != nil {
				return nil, fmt.Errorf("spool upload: %w", err)
			}
			n, err := io.Copy(out, io.LimitReader(part, limit-f.bytes+1))
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			f.bytes += n
			if f.bytes > limit {
				return nil, tooLarge()
			}
			if err != nil {
				var mb *http.MaxBytesError
				if errors.As(err, &mb) {
					return nil, tooLarge()
				}
				return nil, invalidf("reading file %q: %v", upName, err)
			}
			f.names = append(f.names, upName)
			f.opts.Files = append(f.opts.Files, escapeGlob(path))
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
		if err != nil {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				return nil, tooLarge()
			}
			return nil, invalidf("reading field %q: %v", name, err)
		}
		if len(b) > maxFieldBytes {
			return nil, invalidf("field %q is longer than %d bytes", name, maxFieldBytes)
		}
		v := string(b)
		boolean := func() (bool, error) {
			x, err := strconv.ParseBool(v)
			if err != nil {
				return false, invalidf("field %s=%q: want true or false", name, v)
			}
			return x, nil
		}
		switch name {
		case "format":
			if v != "csv" && v != "json" && v != "parquet" {
				return nil, invalidf("field format=%q: use csv, json or parquet", v)
			}
			f.opts.Format = v
		case "partition_by":
			f.opts.PartitionBy = append(f.opts.PartitionBy, v)
		case "evolve":
			if f.opts.Evolve, err = boolean(); err != nil {
				return nil, err
			}
		case "bad_rows":
			if v != ingest.BadRowsFail && v != ingest.BadRowsSkip && v != ingest.BadRowsQuarantine {
				return nil, invalidf("field bad_rows=%q: use fail, skip or quarantine", v)
			}
			f.opts.BadRows = v
		case "delimiter":
			f.opts.CSV.Delimiter = v
		case "quote":
			f.opts.CSV.Quote = v
		case "header":
			h, err := boolean()
			if err != nil {
				return nil, err
			}
			f.opts.CSV.Header = &h
		case "null":
			f.opts.CSV.Nulls = append(f.opts.CSV.Nulls, v)
		case "property":
			props = append(props, v)
		case "async":
			if f.async, err = boolean(); err != nil {
				return nil, err
			}
		default:
			return nil, invalidf("unknown form field %q", name)
		}
	}
	if len(f.names) == 0 {
		return nil, invalidf("no file part: send the data as one or more parts named \"file\"")
	}
	if f.opts.Format == "" {
		// Fail before starting a job when the format cannot be told.
		format := ""
		for _, n := range f.names {
			ff := ingest.FormatOf(n)
			if ff == "" {
				return nil, invalidf("cannot tell the format of %q from its name; send a format field (csv, json or parquet)", n)
			}
			if format != "" && ff != format {
				return nil, invalidf("files mix formats (%s and %s); load them separately", format, ff)
			}
			format = ff
		}
	}
	for _, p := range props {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, invalidf("field property=%q: use KEY=VALUE", p)
		}
		if f.opts.Properties == nil {
			f.opts.Properties = map[string]string{}
		}
		f.opts.Properties[k] = v
	}
	return f, nil
}

// safeFileName keeps an uploaded file's base name (its extension tells the
// format) but only in characters that are safe in a path and in DuckDB's
// string literals.
func safeFileName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	out := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, name)
	if out == "" || strings.Trim(out, ".") == "" {
		out = "upload"
	}
	if len(out) > 200 {
		out = out[len(out)-200:]
	}
	return out
}

// ingest.Options.Files are glob patterns; the spool path is made literal.
func escapeGlob(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func unescapeGlob(p string) string {
	var b strings.Builder
	esc := false
	for _, r := range p {
		if r == '\\' && !esc {
			esc = true
			continue
		}
		esc = false
		b.WriteRune(r)
	}
	return b.String()
}
