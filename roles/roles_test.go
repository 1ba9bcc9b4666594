package roles

import (
	"slices"
	"strings"
	"testing"
)

// shop exercises every level and action. Comments in the tests refer to it.
const shop = `{
  "privileges": [
    {"privilege": "reader"},
    {"privilege": "vip", "includes": ["reader"]},
    {"privilege": "editor", "includes": ["Vip"]},
    {"privilege": "auditor"},
    {"privilege": "creator"},
    {"privilege": "runner"}
  ],
  "roles": [
    {"role": "Sales", "privileges": ["vip"]},
    {"role": "Admins", "privileges": ["editor", "WebAdmin"]}
  ],
  "permissions": {"allowed": [
    {"applyTo": "ds", "type": "datastore", "read": ["reader"], "create": ["creator"],
     "update": ["editor"], "drop": ["editor"], "execute": ["runner"], "promote": ["auditor"]},
    {"applyTo": "Users", "type": "dataclass", "read": ["vip"], "drop": ["auditor"], "execute": ["vip"]},
    {"applyTo": "Users.password", "type": "attribute", "read": ["WebAdmin"], "update": ["WebAdmin"]},
    {"applyTo": "Users.name", "type": "attribute", "create": ["guest"]},
    {"applyTo": "Public", "type": "dataclass", "read": ["guest"]},
    {"applyTo": "Closed", "type": "dataclass", "read": []},
    {"applyTo": "ds.authentify", "type": "method", "execute": ["guest"]},
    {"applyTo": "Users.reset", "type": "method", "execute": ["WebAdmin"], "promote": ["editor"]}
  ]},
  "forceLogin": true
}`

func mustParse(t testing.TB, src string) *Config {
	t.Helper()
	c, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestAllowedResolution(t *testing.T) {
	c := mustParse(t, shop)
	var (
		none    = c.Expand(nil, nil)
		reader  = c.Expand([]string{"reader"}, nil)
		vip     = c.Expand([]string{"vip"}, nil) // vip, reader
		sales   = c.Expand(nil, []string{"Sales"})
		editor  = c.Expand([]string{"editor"}, nil) // editor, vip, reader
		admins  = c.Expand(nil, []string{"Admins"}) // WebAdmin, editor, vip, reader
		creator = c.Expand([]string{"creator"}, nil)
		runner  = c.Expand([]string{"runner"}, nil)
		auditor = c.Expand([]string{"auditor"}, nil)
		webOnly = c.Expand([]string{"WebAdmin"}, nil)
	)
	users := DataClassResource("Users")
	orders := DataClassResource("Orders") // no entry: the datastore level applies
	tests := []struct {
		name   string
		held   []string
		action Action
		res    Resource
		want   bool
	}{
		// Datastore level.
		{"DatastoreReadAllowed", reader, Read, DatastoreResource(), true},
		{"DatastoreReadRefused", none, Read, DatastoreResource(), false},
		{"DatastoreCreateAllowed", creator, Create, DatastoreResource(), true},
		{"DatastoreCreateRefused", reader, Create, DatastoreResource(), false},
		{"DatastoreUpdateAllowed", editor, Update, DatastoreResource(), true},
		{"DatastoreDropAllowed", editor, Drop, DatastoreResource(), true},
		{"DatastoreExecuteAllowed", runner, Execute, DatastoreResource(), true},
		{"DatastoreExecuteRefused", editor, Execute, DatastoreResource(), false},

		// A dataclass without an entry falls back to the datastore.
		{"UnlistedDataClassReadAllowedByDatastore", reader, Read, orders, true},
		{"UnlistedDataClassReadRefusedByDatastore", none, Read, orders, false},
		{"UnlistedDataClassCreateAllowed", creator, Create, orders, true},
		{"UnlistedDataClassDropAllowed", editor, Drop, orders, true},

		// A dataclass setting overrides the datastore's.
		{"DataClassReadOverridesDatastore", reader, Read, users, false},
		{"DataClassReadAllowed", vip, Read, users, true},
		{"DataClassCreateFallsBackToDatastore", creator, Create, users, true},
		{"DataClassCreateRefusedByDatastore", vip, Create, users, false},
		{"DataClassDropOverridesDatastore", editor, Drop, users, false},
		{"DataClassExecuteOverridesDatastore", runner, Execute, users, false},
		{"DataClassExecuteAllowed", vip, Execute, users, true},

		// Update and drop also need read.
		{"UpdateAllowedWithRead", editor, Update, users, true},
		{"UpdateRefusedWithoutRead", []string{"editor"}, Update, users, false},
		{"DropRefusedWithoutRead", auditor, Drop, users, false},
		{"DropAllowedWithRead", []string{"auditor", "vip"}, Drop, users, true},
		{"DropOnDatastoreRefusedWithoutRead", []string{"editor"}, Drop, orders, false},
		{"CreateDoesNotNeedRead", creator, Create, orders, true},

		// An attribute setting adds a condition to its dataclass.
		{"AttributeReadNeedsDataClassToo", webOnly, Read, AttributeResource("Users", "password"), false},
		{"AttributeReadNeedsAttributeToo", vip, Read, AttributeResource("Users", "password"), false},
		{"AttributeReadAllowedByBoth", admins, Read, AttributeResource("Users", "password"), true},
		{"UnlistedAttributeFollowsDataClass", vip, Read, AttributeResource("Users", "email"), true},
		{"UnlistedAttributeRefusedByDataClass", reader, Read, AttributeResource("Users", "email"), false},
		{"AttributeUpdateAllowed", admins, Update, AttributeResource("Users", "password"), true},
		{"AttributeUpdateRefused", sales, Update, AttributeResource("Users", "password"), false},
		{"AttributeCreateGuestStillNeedsDataClass", none, Create, AttributeResource("Users", "name"), false},
		{"AttributeCreateGuestWithDataClass", creator, Create, AttributeResource("Users", "name"), true},
		{"AttributeOfUnlistedDataClass", reader, Read, AttributeResource("Orders", "total"), true},

		// Guest is held by everyone; an empty list allows nobody.
		{"GuestListedOpensToEveryone", none, Read, DataClassResource("Public"), true},
		{"GuestListedAttribute", none, Read, AttributeResource("Public", "title"), true},
		{"GuestReadDoesNotOpenUpdate", none, Update, DataClassResource("Public"), false},
		{"UpdateOnGuestReadable", editor, Update, DataClassResource("Public"), true},
		{"EmptyListAllowsNobody", admins, Read, DataClassResource("Closed"), false},

		// Methods: own setting, else dataclass, else datastore.
		{"MethodOwnSettingGuest", none, Execute, MethodResource("", "authentify"), true},
		{"MethodOwnSettingAllowed", admins, Execute, MethodResource("Users", "reset"), true},
		{"MethodOwnSettingOverridesDataClass", vip, Execute, MethodResource("Users", "reset"), false},
		{"MethodFallsBackToDataClass", vip, Execute, MethodResource("Users", "list"), true},
		{"MethodDataClassOverridesDatastore", runner, Execute, MethodResource("Users", "list"), false},
		{"MethodFallsBackToDatastore", runner, Execute, MethodResource("Orders", "total"), true},
		{"DatastoreFunctionFallsBackToDatastore", runner, Execute, MethodResource("", "hello"), true},
		{"DatastoreFunctionRefused", none, Execute, MethodResource("", "hello"), false},
		{"MethodNamesAreCaseSensitive", none, Execute, MethodResource("", "Authentify"), false},
		{"DataClassNamesAreCaseSensitive", reader, Read, DataClassResource("users"), true},

		// Privilege names in held are case-insensitive.
		{"HeldNamesAnyCase", []string{"VIP"}, Read, users, true},
		{"UndeclaredHeldIgnored", []string{"nobody"}, Read, users, false},
		{"RoleNameInHeldIsNotAPrivilege", []string{"Sales"}, Read, users, false},

		// Questions that have no meaning are refused.
		{"ReadOnMethodRefused", admins, Read, MethodResource("", "authentify"), false},
		{"ExecuteOnAttributeRefused", admins, Execute, AttributeResource("Users", "name"), false},
		{"PromoteIsNotAnAccess", auditor, Promote, MethodResource("", "authentify"), false},
		{"UnknownActionRefused", admins, Action("write"), users, false},
		{"EmptyDataClassRefused", admins, Read, DataClassResource(""), false},
		{"AttributeWithoutNameRefused", admins, Read, AttributeResource("Users", ""), false},
		{"MethodWithoutNameRefused", none, Execute, MethodResource("", ""), false},
		{"DatastoreWithNamesRefused", reader, Read, Resource{Kind: Datastore, DataClass: "Orders"}, false},
		{"UnknownKindRefused", admins, Read, Resource{Kind: Kind(9), DataClass: "Users"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Allowed(tt.held, tt.action, tt.res); got != tt.want {
				t.Errorf("Allowed(%q, %s, %v) = %v, want %v", tt.held, tt.action, tt.res, got, tt.want)
			}
		})
	}
}

func TestAllowedRestrictedByDefault(t *testing.T) {
	const src = `{
  "restrictedByDefault": %s,
  "privileges": [{"privilege": "vip"}],
  "permissions": {"allowed": [
    {"applyTo": "Users", "type": "dataclass", "read": ["vip"]},
    {"applyTo": "Users.secret", "type": "attribute", "read": ["WebAdmin"]},
    {"applyTo": "Orders.total", "type": "attribute", "read": ["vip"]},
    {"applyTo": "ds.hello", "type": "method", "execute": ["guest"]}
  ]}
}`
	open := mustParse(t, strings.Replace(src, "%s", "false", 1))
	closed := mustParse(t, strings.Replace(src, "%s", "true", 1))
	vip := []string{"vip"}
	tests := []struct {
		name       string
		held       []string
		action     Action
		res        Resource
		wantOpen   bool
		wantClosed bool
	}{
		{"SetDataClassAllowed", vip, Read, DataClassResource("Users"), true, true},
		{"SetDataClassRefused", nil, Read, DataClassResource("Users"), false, false},
		{"UnsetActionOnListedDataClass", vip, Create, DataClassResource("Users"), true, false},
		{"UnsetAttributeFollowsDataClass", vip, Read, AttributeResource("Users", "name"), true, true},
		{"SetAttributeRefused", vip, Read, AttributeResource("Users", "secret"), false, false},
		{"SetAttributeAllowed", []string{"vip", "WebAdmin"}, Read, AttributeResource("Users", "secret"), true, true},
		{"UnlistedDataClass", nil, Read, DataClassResource("Orders"), true, false},
		{"AttributeAloneDoesNotOpenDataClass", vip, Read, AttributeResource("Orders", "total"), true, false},
		{"Datastore", nil, Drop, DatastoreResource(), true, false},
		{"ListedMethod", nil, Execute, MethodResource("", "hello"), true, true},
		{"UnlistedMethod", nil, Execute, MethodResource("", "other"), true, false},
		{"UnlistedDataClassMethod", vip, Execute, MethodResource("Users", "fn"), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := open.Allowed(tt.held, tt.action, tt.res); got != tt.wantOpen {
				t.Errorf("open: Allowed(%q, %s, %v) = %v, want %v", tt.held, tt.action, tt.res, got, tt.wantOpen)
			}
			if got := closed.Allowed(tt.held, tt.action, tt.res); got != tt.wantClosed {
				t.Errorf("restricted: Allowed(%q, %s, %v) = %v, want %v", tt.held, tt.action, tt.res, got, tt.wantClosed)
			}
		})
	}
	if got := closed.RestrictedByDefault(); !got {
		t.Errorf("RestrictedByDefault() = %v, want true", got)
	}
	if got := open.RestrictedByDefault(); got {
		t.Errorf("RestrictedByDefault() = %v, want false", got)
	}
}

func TestExpand(t *testing.T) {
	c := mustParse(t, shop)
	tests := []struct {
		name              string
		privileges, roles []string
		want              []string
	}{
		{"Nothing", nil, nil, []string{}},
		{"OnePrivilegeWithIncludes", []string{"vip"}, nil, []string{"reader", "vip"}},
		{"IncludesAreTransitive", []string{"editor"}, nil, []string{"editor", "reader", "vip"}},
		{"Role", nil, []string{"Sales"}, []string{"reader", "vip"}},
		{"RoleWithReservedPrivilege", nil, []string{"admins"}, []string{"WebAdmin", "editor", "reader", "vip"}},
		{"CaseInsensitiveSpelledAsDeclared", []string{"EDITOR", "Auditor"}, []string{"SALES"}, []string{"auditor", "editor", "reader", "vip"}},
		{"Deduplicated", []string{"vip", "reader", "VIP"}, []string{"Sales", "sales"}, []string{"reader", "vip"}},
		{"UndeclaredIgnored", []string{"nobody"}, []string{"ghosts"}, []string{}},
		{"GuestNeverListed", []string{"guest", "Guest"}, nil, []string{}},
		{"WebAdmin", []string{"webadmin"}, nil, []string{"WebAdmin"}},
		{"RoleNameInPrivileges", []string{"Sales"}, nil, []string{"reader", "vip"}},
		{"PrivilegeNameInRoles", nil, []string{"runner"}, []string{"runner"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Expand(tt.privileges, tt.roles)
			if got == nil || !slices.Equal(got, tt.want) {
				t.Errorf("Expand(%q, %q) = %#v, want %#v", tt.privileges, tt.roles, got, tt.want)
			}
		})
	}
}

func TestNames(t *testing.T) {
	c := mustParse(t, shop)
	tests := []struct {
		name          string
		wantCanonical string
		wantDeclared  bool
		wantPrivilege bool
		wantRole      bool
	}{
		{"VIP", "vip", true, true, false},
		{"sales", "Sales", true, false, true},
		{"webadmin", WebAdmin, true, true, false},
		{"GUEST", Guest, true, true, false},
		{"nobody", "", false, false, false},
		{"", "", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := c.Canonical(tt.name)
			if got != tt.wantCanonical || ok != tt.wantDeclared {
				t.Errorf("Canonical(%q) = %q, %v, want %q, %v", tt.name, got, ok, tt.wantCanonical, tt.wantDeclared)
			}
			if got := c.IsPrivilege(tt.name); got != tt.wantPrivilege {
				t.Errorf("IsPrivilege(%q) = %v, want %v", tt.name, got, tt.wantPrivilege)
			}
			if got := c.IsRole(tt.name); got != tt.wantRole {
				t.Errorf("IsRole(%q) = %v, want %v", tt.name, got, tt.wantRole)
			}
		})
	}
}

func TestPromoted(t *testing.T) {
	c := mustParse(t, shop)
	tests := []struct {
		name string
		res  Resource
		want []string
	}{
		{"OwnSettingExpanded", MethodResource("Users", "reset"), []string{"editor", "reader", "vip"}},
		{"FallsBackToDatastore", MethodResource("Users", "list"), []string{"auditor"}},
		{"DatastoreFunction", MethodResource("", "authentify"), []string{"auditor"}},
		{"NotAMethod", DataClassResource("Users"), nil},
		{"MalformedMethod", MethodResource("Users", ""), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Promoted(tt.res); !slices.Equal(got, tt.want) {
				t.Errorf("Promoted(%v) = %q, want %q", tt.res, got, tt.want)
			}
		})
	}

	t.Run("DataClassSettingOverridesDatastore", func(t *testing.T) {
		c := mustParse(t, `{"privileges": [{"privilege": "a"}, {"privilege": "b"}],
		  "permissions": {"allowed": [
		    {"applyTo": "ds", "type": "datastore", "promote": ["a"]},
		    {"applyTo": "Users", "type": "dataclass", "promote": ["b", "guest"]}]}}`)
		if got, want := c.Promoted(MethodResource("Users", "fn")), []string{"b"}; !slices.Equal(got, want) {
			t.Errorf("Promoted(Users.fn) = %q, want %q", got, want)
		}
		if got, want := c.Promoted(MethodResource("Orders", "fn")), []string{"a"}; !slices.Equal(got, want) {
			t.Errorf("Promoted(Orders.fn) = %q, want %q", got, want)
		}
	})

	t.Run("NoPromoteSetting", func(t *testing.T) {
		if got := Default().Promoted(MethodResource("", "authentify")); got != nil {
			t.Errorf("Promoted() = %q, want nil", got)
		}
	})

	t.Run("ResultIsACopy", func(t *testing.T) {
		res := MethodResource("Users", "reset")
		c.Promoted(res)[0] = "mutated"
		if got := c.Promoted(res)[0]; got != "editor" {
			t.Errorf("Promoted(%v)[0] after mutation = %q, want %q", res, got, "editor")
		}
	})
}

func TestDefault(t *testing.T) {
	c := Default()
	if c.ForceLogin() || c.RestrictedByDefault() {
		t.Errorf("ForceLogin, RestrictedByDefault = %v, %v, want false, false", c.ForceLogin(), c.RestrictedByDefault())
	}
	// Everything is open, except the questions that have no meaning.
	for _, r := range []Resource{DatastoreResource(), DataClassResource("X"), AttributeResource("X", "y")} {
		for _, a := range []Action{Read, Create, Update, Drop} {
			if !c.Allowed(nil, a, r) {
				t.Errorf("Allowed(nil, %s, %v) = false, want true", a, r)
			}
		}
		if c.Allowed(nil, Promote, r) {
			t.Errorf("Allowed(nil, promote, %v) = true, want false", r)
		}
	}
	if c.Allowed(nil, Execute, AttributeResource("X", "y")) {
		t.Errorf("Allowed(nil, execute, X.y) = true, want false")
	}
	if got := c.Allowed(nil, Execute, MethodResource("", "fn")); !got {
		t.Errorf("Allowed(nil, execute, ds.fn) = false, want true")
	}
	for _, name := range []string{WebAdmin, Guest} {
		if !c.IsPrivilege(name) {
			t.Errorf("IsPrivilege(%q) = false, want true", name)
		}
	}
	if got := c.Expand([]string{"webadmin", "vip"}, nil); !slices.Equal(got, []string{WebAdmin}) {
		t.Errorf("Expand = %q, want [WebAdmin]", got)
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		src                       string
		wantForce, wantRestricted bool
	}{
		{`{}`, false, false},
		{`{"forceLogin": true}`, true, false},
		{`{"forceLogin": false, "restrictedByDefault": true}`, false, true},
	}
	for _, tt := range tests {
		c := mustParse(t, tt.src)
		if c.ForceLogin() != tt.wantForce || c.RestrictedByDefault() != tt.wantRestricted {
			t.Errorf("%s: ForceLogin, RestrictedByDefault = %v, %v, want %v, %v",
				tt.src, c.ForceLogin(), c.RestrictedByDefault(), tt.wantForce, tt.wantRestricted)
		}
	}
}

func TestReservedNames(t *testing.T) {
	c := mustParse(t, `{"privileges": [
	  {"privilege": "webadmin", "includes": ["reader"]},
	  {"privilege": "reader", "includes": ["guest"]}]}`)
	if got, want := c.Expand([]string{"WebAdmin"}, nil), []string{WebAdmin, "reader"}; !slices.Equal(got, want) {
		t.Errorf("Expand(WebAdmin) = %q, want %q", got, want)
	}
	if got, _ := c.Canonical("WEBADMIN"); got != WebAdmin {
		t.Errorf("Canonical(WEBADMIN) = %q, want %q", got, WebAdmin)
	}
}

func TestEscapedNames(t *testing.T) {
	c := mustParse(t, `{"privileges": [{"privilege": "caf\u00e9 \ud83d\ude00\/x"}]}`)
	if name := "CAFÉ 😀/X"; !c.IsPrivilege(name) {
		t.Errorf("IsPrivilege(%q) = false, want true", name)
	}
}

func TestResourceString(t *testing.T) {
	tests := []struct {
		res  Resource
		want string
	}{
		{DatastoreResource(), "ds"},
		{DataClassResource("Users"), "Users"},
		{AttributeResource("Users", "name"), "Users.name"},
		{MethodResource("", "authentify"), "ds.authentify"},
		{MethodResource("Users", "reset"), "Users.reset"},
	}
	for _, tt := range tests {
		if got := tt.res.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestAllowedDoesNotAllocate(t *testing.T) {
	c := mustParse(t, shop)
	admins := c.Expand(nil, []string{"Admins"})
	cases := []struct {
		action Action
		res    Resource
	}{
		{Read, DataClassResource("Users")},
		{Update, AttributeResource("Users", "password")},
		{Drop, DataClassResource("Orders")},
		{Execute, MethodResource("Users", "list")},
		{Execute, MethodResource("", "authentify")},
	}
	for _, tc := range cases {
		if allocs := testing.AllocsPerRun(100, func() { c.Allowed(admins, tc.action, tc.res) }); allocs != 0 {
			t.Errorf("Allowed(%s, %v) allocates %v times, want 0", tc.action, tc.res, allocs)
		}
	}
}

func BenchmarkAllowed(b *testing.B) {
	c := mustParse(b, shop)
	sales := c.Expand(nil, []string{"Sales"})
	admins := c.Expand(nil, []string{"Admins"})
	benchmarks := []struct {
		name   string
		held   []string
		action Action
		res    Resource
	}{
		{"DataClassRead", sales, Read, DataClassResource("Users")},
		{"AttributeUpdate", admins, Update, AttributeResource("Users", "password")},
		{"MethodFallbackToDatastore", sales, Execute, MethodResource("Orders", "total")},
		{"GuestMethod", nil, Execute, MethodResource("", "authentify")},
		{"HeldNotCanonical", []string{"READER", "VIP"}, Read, DataClassResource("Users")},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Allowed(bm.held, bm.action, bm.res)
			}
		})
	}
}

func TestResources(t *testing.T) {
	c, err := Parse([]byte(`{"permissions":{"allowed":[
	  {"applyTo":"ds","type":"datastore","read":[]},
	  {"applyTo":"Users.password","type":"attribute","read":[]},
	  {"applyTo":"Users","type":"dataclass","read":[]},
	  {"applyTo":"ds.authentify","type":"method","execute":["guest"]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range c.Resources() {
		got = append(got, r.Kind.String()+" "+r.String())
	}
	want := "dataclass Users, attribute Users.password, method ds.authentify"
	if strings.Join(got, ", ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}
