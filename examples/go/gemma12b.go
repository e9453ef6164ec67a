// Package gemma12b binds the gemma12b C ABI through cgo (pkg-config gemma12b).
package gemma12b

/*
#cgo pkg-config: gemma12b
#include <stdlib.h>
#include <gemma12b.h>
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Error is a failed call: the C status and the library's message.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("gemma12b error %d: %s", e.Status, e.Message) }

func check(s C.gemma12b_status) error {
	if s == C.GEMMA12B_OK {
		return nil
	}
	return &Error{Status: int(s), Message: C.GoString(C.gemma12b_last_error())}
}

// Model is a loaded model; Close frees it.
type Model struct{ raw *C.gemma12b_model }

// Load opens a GGUF file or an HF safetensors directory.
func Load(path string) (*Model, error) {
	runtime.LockOSThread() // the last error is per thread
	defer runtime.UnlockOSThread()
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var raw *C.gemma12b_model
	if err := check(C.gemma12b_model_load(cpath, nil, &raw)); err != nil {
		return nil, err
	}
	return &Model{raw: raw}, nil
}

func (m *Model) NVocab() int { return int(C.gemma12b_model_n_vocab(m.raw)) }
func (m *Model) Close()      { C.gemma12b_model_free(m.raw); m.raw = nil }

// Context is one sequence (KV cache + decoder state).
type Context struct{ raw *C.gemma12b_context }

func (m *Model) NewContext(nCtx int64) (*Context, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var p C.gemma12b_context_params
	C.gemma12b_context_params_init(&p)
	p.n_ctx = C.int64_t(nCtx)
	var raw *C.gemma12b_context
	if err := check(C.gemma12b_context_create(m.raw, &p, &raw)); err != nil {
		return nil, err
	}
	return &Context{raw: raw}, nil
}

func (c *Context) Close()      { C.gemma12b_context_free(c.raw); c.raw = nil }
func (c *Context) NPast() int64 { return int64(C.gemma12b_context_n_past(c.raw)) }

// GenerateGreedy decodes prompt and returns up to maxTokens greedy tokens.
func (c *Context) GenerateGreedy(prompt []int32, maxTokens int) ([]int32, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if len(prompt) == 0 {
		return nil, &Error{Status: 1, Message: "empty prompt"}
	}
	var p C.gemma12b_generate_params
	C.gemma12b_generate_params_init(&p)
	p.temperature = 0
	p.max_tokens = C.int64_t(maxTokens)
	out := make([]int32, maxTokens)
	var n C.size_t
	cprompt := (*C.int32_t)(unsafe.Pointer(&prompt[0]))
	var outPtr *C.int32_t
	if maxTokens > 0 {
		outPtr = (*C.int32_t)(unsafe.Pointer(&out[0]))
	}
	if err := check(C.gemma12b_generate(c.raw, cprompt, C.size_t(len(prompt)), &p, nil, nil, outPtr, C.size_t(maxTokens), &n, nil)); err != nil {
		return nil, err
	}
	return out[:int(n)], nil
}
