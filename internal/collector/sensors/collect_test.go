package sensors

import (
	"testing"
)

// TestCollectFixture checks every collector's full output over the fixture
// tree against testdata/golden/<collector>.txt.
func TestCollectFixture(t *testing.T) {
	cs, err := New(fixtureRoots(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		t.Run(c.Name(), func(t *testing.T) {
			checkGolden(t, c.Name(), collectText(t, c))
		})
	}
}
