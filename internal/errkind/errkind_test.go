package errkind

import (
	"errors"
	"fmt"
	"testing"
)

type selfKinded struct{}

func (selfKinded) Error() string   { return "self" }
func (selfKinded) ErrorKind() Kind { return Conflict }

func TestOf(t *testing.T) {
	base := errors.New("base")
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"Nil", nil, Other},
		{"Plain", base, Other},
		{"Wrapped", Wrap(NotFound, base), NotFound},
		{"WrappedByFmt", fmt.Errorf("ctx: %w", Wrap(Timeout, base)), Timeout},
		{"OutermostWins", Wrap(Invalid, fmt.Errorf("x: %w", Wrap(NotFound, base))), Invalid},
		{"SelfKinded", fmt.Errorf("x: %w", selfKinded{}), Conflict},
		{"Joined", errors.Join(base, Wrap(Unavailable, base)), Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Of(tt.err); got != tt.want {
				t.Errorf("Of(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if Wrap(NotFound, nil) != nil {
		t.Error("Wrap(k, nil) != nil")
	}
	if !errors.Is(Wrap(NotFound, base), base) {
		t.Error("Wrap hides the wrapped error from errors.Is")
	}
}
