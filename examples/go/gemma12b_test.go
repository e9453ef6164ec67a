package gemma12b

import (
	"os"
	"testing"
)

func modelPath(t *testing.T) string {
	p := os.Getenv("GEMMA12B_TEST_MODEL")
	if p == "" {
		t.Fatal("set GEMMA12B_TEST_MODEL to tiny-gemma4.gguf")
	}
	return p
}

func TestGreedyMatchesReference(t *testing.T) {
	// readme:begin
	m, err := Load(modelPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.NVocab() != 373 {
		t.Fatalf("vocab %d", m.NVocab())
	}
	c, err := m.NewContext(128)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, err := c.GenerateGreedy([]int32{2, 126, 308, 283, 71, 194, 314, 247}, 16)
	// readme:end
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 16 {
		t.Fatalf("got %d tokens", len(out))
	}
	for _, tok := range out {
		if tok != 247 {
			t.Fatalf("got %v, want 16 x 247", out)
		}
	}
}

func TestErrors(t *testing.T) {
	if _, err := Load("/nonexistent.gguf"); err == nil {
		t.Fatal("loading a missing file must fail")
	} else if e, ok := err.(*Error); !ok || e.Status != 2 {
		t.Fatalf("unexpected error %v", err)
	}
}
