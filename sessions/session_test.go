package sessions

import "testing"

func TestSessionState(t *testing.T) {
	tests := []struct {
		name                           string
		guest, licensed, authenticated bool
		want                           State
		wantName                       string
	}{
		{"ForceLoginGuest", true, false, false, StateGuest, "guest"},
		{"DefaultModeAnonymous", true, true, false, StateAnonymous, "anonymous"},
		{"GrantedWithLicence", false, true, false, StateGranted, "granted"},
		{"GrantedWithoutLicence", false, false, false, StateGranted, "granted"},
		{"Authenticated", false, true, true, StateAuthenticated, "authenticated"},
		{"AuthenticatedWinsOverGuest", true, true, true, StateAuthenticated, "authenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Session{Guest: tt.guest, Licensed: tt.licensed, Authenticated: tt.authenticated}
			got := s.State()
			if got != tt.want {
				t.Fatalf("State: got %v, want %v", got, tt.want)
			}
			if got.String() != tt.wantName {
				t.Fatalf("String: got %q, want %q", got.String(), tt.wantName)
			}
		})
	}
	if got, want := State(9).String(), "State(9)"; got != want {
		t.Fatalf("unknown state: got %q, want %q", got, want)
	}
}
