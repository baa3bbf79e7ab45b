package runs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxLogBody bounds a log request's body.
const MaxLogBody = 16 << 20

// Route is one HTTP route of the runs API.
type Route struct {
	Pattern string
	Handler http.HandlerFunc
	// Writes marks routes that change state (they need authentication
	// when the agent listens beyond loopback).
	Writes bool
}

// Routes returns the runs API:
//
//	POST /api/v1/runs               register (or resume) a run
//	GET  /api/v1/runs               list runs (?status=running)
//	GET  /api/v1/runs/{run}         one run
//	POST /api/v1/runs/{run}/log     log steps (NDJSON, or one object, or an array)
//	POST /api/v1/runs/{run}/finish  end a run ({"status": "finished"|"failed"})
func (r *Registry) Routes() []Route {
	return []Route{
		{"POST /api/v1/runs", r.handleCreate, true},
		{"GET /api/v1/runs", r.handleList, false},
		{"GET /api/v1/runs/{run}", r.handleGet, false},
		{"POST /api/v1/runs/{run}/log", r.handleLog, true},
		{"POST /api/v1/runs/{run}/finish", r.handleFinish, true},
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"status": "error", "error": msg})
}

// readBody reads at most MaxLogBody bytes, answering 413 beyond.
func readBody(w http.ResponseWriter, req *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxLogBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeErr(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes; send fewer lines per request", MaxLogBody))
		return nil, false
	}
	if err != nil {
		writeErr(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return nil, false
	}
	return b, true
}

func (r *Registry) handleCreate(w http.ResponseWriter, req *http.Request) {
	b, ok := readBody(w, req)
	if !ok {
		return
	}
	var cr CreateRequest
	if len(b) > 0 {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cr); err != nil {
			writeErr(w, http.StatusBadRequest, "body: "+err.Error()+` (want {"name": ..., "config": {...}, "total_steps": N})`)
			return
		}
	}
	run, created, err := r.Create(cr)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, run)
}

func (r *Registry) handleList(w http.ResponseWriter, req *http.Request) {
	status := req.URL.Query().Get("status")
	switch status {
	case "", StatusRunning, StatusStalled, StatusFinished, StatusFailed:
	default:
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("status %q: want running, stalled, finished or failed", status))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": r.List(status)})
}

func (r *Registry) handleGet(w http.ResponseWriter, req *http.Request) {
	run, ok := r.Get(req.PathValue("run"))
	if !ok {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no run %q", req.PathValue("run")))
		return
	}
	writeJSON(w, http.StatusOK, run)
}

func (r *Registry) handleLog(w http.ResponseWriter, req *http.Request) {
	b, ok := readBody(w, req)
	if !ok {
		return
	}
	entries, err := ParseLines(b)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	n, err := r.Log(req.Context(), req.PathValue("run"), entries)
	var le *LogError
	if errors.As(err, &le) {
		writeErr(w, le.Code, le.Msg)
		return
	}
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "accepted": len(entries), "samples": n})
}

func (r *Registry) handleFinish(w http.ResponseWriter, req *http.Request) {
	b, ok := readBody(w, req)
	if !ok {
		return
	}
	var body struct {
		Status   string `json:"status"`
		ExitCode *int   `json:"exit_code"`
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			writeErr(w, http.StatusBadRequest, "body: "+err.Error()+` (want {"status": "finished"} or {"status": "failed", "exit_code": 1})`)
			return
		}
	}
	run, err := r.Finish(req.PathValue("run"), body.Status, body.ExitCode)
	if err != nil {
		code := http.StatusBadRequest
		if _, ok := r.Get(req.PathValue("run")); !ok {
			code = http.StatusNotFound
		}
		writeErr(w, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, run)
}
