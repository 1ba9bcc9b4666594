package roles

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// errorStrings returns the formatted problems of a Parse error, failing the
// test when err is not a non-empty ErrorList of well-formed errors.
func errorStrings(t *testing.T, err error) []string {
	t.Helper()
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error = %v (%T), want a non-empty ErrorList", err, err)
	}
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.Error()
	}
	return out
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		// Top level.
		{"RootNotObject", `[]`, []string{
			`roles.json:1:1: $: want object, got array`}},
		{"UnknownTopLevelKey", "{\n  \"forcelogin\": true\n}", []string{
			`roles.json:2:3: $.forcelogin: unknown key "forcelogin" (did you mean "forceLogin"?)`}},
		{"UnknownKeyNeedsQuoting", `{"a b": 1}`, []string{
			`roles.json:1:2: $["a b"]: unknown key "a b"`}},
		{"ForceLoginWrongType", `{"forceLogin": "yes"}`, []string{
			`roles.json:1:16: $.forceLogin: want boolean, got string`}},
		{"RestrictedByDefaultNull", `{"restrictedByDefault": null}`, []string{
			`roles.json:1:25: $.restrictedByDefault: want boolean, got null`}},
		{"DuplicateKey", "{\"forceLogin\": true,\n \"forceLogin\": false}", []string{
			`roles.json:2:2: $.forceLogin: duplicate key "forceLogin"`}},

		// Privileges.
		{"PrivilegesNotArray", `{"privileges": {}}`, []string{
			`roles.json:1:16: $.privileges: want array, got object`}},
		{"PrivilegeNotObject", `{"privileges": ["vip"]}`, []string{
			`roles.json:1:17: $.privileges[0]: want object, got string`}},
		{"PrivilegeUnknownKey", `{"privileges": [{"privilege": "a", "include": []}]}`, []string{
			`roles.json:1:36: $.privileges[0].include: unknown key "include"`}},
		{"PrivilegeMissingName", `{"privileges": [{"includes": []}]}`, []string{
			`roles.json:1:17: $.privileges[0]: missing "privilege"`}},
		{"PrivilegeNameNotString", `{"privileges": [{"privilege": 1}]}`, []string{
			`roles.json:1:31: $.privileges[0].privilege: want string, got number`}},
		{"IncludesNotArray", `{"privileges": [{"privilege": "a", "includes": "b"}]}`, []string{
			`roles.json:1:48: $.privileges[0].includes: want array, got string`}},
		{"IncludesElementNotString", `{"privileges": [{"privilege": "a", "includes": [true]}]}`, []string{
			`roles.json:1:49: $.privileges[0].includes[0]: want string, got boolean`}},
		{"EmptyName", `{"privileges": [{"privilege": ""}]}`, []string{
			`roles.json:1:31: $.privileges[0].privilege: privilege name is empty`}},
		{"NameWithSpaces", `{"privileges": [{"privilege": " vip"}]}`, []string{
			`roles.json:1:31: $.privileges[0].privilege: privilege name " vip" has leading or trailing white space`}},
		{"NameWithComma", `{"privileges": [{"privilege": "a,b"}]}`, []string{
			`roles.json:1:31: $.privileges[0].privilege: privilege name "a,b" contains a comma`}},
		{"NameWithControl", `{"privileges": [{"privilege": "a\u0000b"}]}`, []string{
			`roles.json:1:31: $.privileges[0].privilege: privilege name "a\x00b" contains a control character`}},
		{"DuplicatePrivilegeAnyCase", "{\"privileges\": [\n  {\"privilege\": \"vip\"},\n  {\"privilege\": \"VIP\"}]}", []string{
			`roles.json:3:17: $.privileges[1].privilege: duplicate privilege "VIP" (first declared at line 2)`}},
		{"GuestDeclared", `{"privileges": [{"privilege": "Guest"}]}`, []string{
			`roles.json:1:31: $.privileges[0].privilege: "Guest" is reserved: every session holds it implicitly`}},
		{"WebAdminDeclaredTwice", "{\"privileges\": [\n  {\"privilege\": \"WebAdmin\"},\n  {\"privilege\": \"webadmin\"}]}", []string{
			`roles.json:3:17: $.privileges[1].privilege: duplicate privilege "webadmin" (first declared at line 2)`}},
		{"IncludesUndeclared", `{"privileges": [{"privilege": "a", "includes": ["b"]}]}`, []string{
			`roles.json:1:49: $.privileges[0].includes[0]: undeclared privilege "b"`}},
		{"IncludesRole", `{"privileges": [{"privilege": "a", "includes": ["R"]}], "roles": [{"role": "r"}]}`, []string{
			`roles.json:1:49: $.privileges[0].includes[0]: "R" is a role, not a privilege`}},
		{"IncludesSelf", `{"privileges": [{"privilege": "a", "includes": ["A"]}]}`, []string{
			`roles.json:1:49: $.privileges[0].includes[0]: includes cycle: a -> a`}},
		{"IncludesCycle", `{"privileges": [
  {"privilege": "a", "includes": ["b"]},
  {"privilege": "b", "includes": ["c"]},
  {"privilege": "c", "includes": ["a"]},
  {"privilege": "d", "includes": ["a"]}]}`, []string{
			`roles.json:4:35: $.privileges[2].includes[0]: includes cycle: a -> b -> c -> a`}},

		// Roles.
		{"RolesNotArray", `{"roles": "Sales"}`, []string{
			`roles.json:1:11: $.roles: want array, got string`}},
		{"RoleUnknownKey", `{"roles": [{"role": "r", "privilege": []}]}`, []string{
			`roles.json:1:26: $.roles[0].privilege: unknown key "privilege"`}},
		{"RoleMissingName", `{"roles": [{}]}`, []string{
			`roles.json:1:12: $.roles[0]: missing "role"`}},
		{"RoleNamedWebAdmin", `{"roles": [{"role": "webAdmin"}]}`, []string{
			`roles.json:1:21: $.roles[0].role: "webAdmin" is a reserved privilege and cannot name a role`}},
		{"RoleNamedGuest", `{"roles": [{"role": "guest"}]}`, []string{
			`roles.json:1:21: $.roles[0].role: "guest" is reserved: every session holds it implicitly`}},
		{"RoleNamedLikePrivilege", "{\"privileges\": [{\"privilege\": \"vip\"}],\n \"roles\": [{\"role\": \"Vip\"}]}", []string{
			`roles.json:2:21: $.roles[0].role: role "Vip" has the name of privilege "vip" declared at line 1 (privilege and role names share one case-insensitive namespace)`}},
		{"DuplicateRole", "{\"roles\": [{\"role\": \"r\"},\n {\"role\": \"R\"}]}", []string{
			`roles.json:2:11: $.roles[1].role: duplicate role "R" (first declared at line 1)`}},
		{"RoleEmptyName", `{"roles": [{"role": ""}]}`, []string{
			`roles.json:1:21: $.roles[0].role: role name is empty`}},
		{"RolePrivilegeUndeclared", `{"roles": [{"role": "r", "privileges": ["vipp"]}]}`, []string{
			`roles.json:1:41: $.roles[0].privileges[0]: undeclared privilege "vipp"`}},
		{"RolePrivilegeIsRole", `{"roles": [{"role": "r", "privileges": ["s"]}, {"role": "s"}]}`, []string{
			`roles.json:1:41: $.roles[0].privileges[0]: "s" is a role, not a privilege`}},
		{"RolePrivilegesNotArray", `{"roles": [{"role": "r", "privileges": "vip"}]}`, []string{
			`roles.json:1:40: $.roles[0].privileges: want array, got string`}},

		// Permissions.
		{"PermissionsNotObject", `{"permissions": []}`, []string{
			`roles.json:1:17: $.permissions: want object, got array`}},
		{"PermissionsUnknownKey", `{"permissions": {"denied": []}}`, []string{
			`roles.json:1:18: $.permissions.denied: unknown key "denied"`}},
		{"AllowedNotArray", `{"permissions": {"allowed": {}}}`, []string{
			`roles.json:1:29: $.permissions.allowed: want array, got object`}},
		{"EntryNotObject", `{"permissions": {"allowed": [1]}}`, []string{
			`roles.json:1:30: $.permissions.allowed[0]: want object, got number`}},
		{"EntryMissingApplyToAndType", `{"permissions": {"allowed": [{"read": []}]}}`, []string{
			`roles.json:1:30: $.permissions.allowed[0]: missing "applyTo"`,
			`roles.json:1:30: $.permissions.allowed[0]: missing "type"`}},
		{"UnknownType", `{"permissions": {"allowed": [{"applyTo": "ds", "type": "Datastore"}]}}`, []string{
			`roles.json:1:56: $.permissions.allowed[0].type: unknown type "Datastore" (want datastore, dataclass, attribute, method, singleton or singletonMethod)`}},
		{"TypeNotString", `{"permissions": {"allowed": [{"applyTo": "ds", "type": 1}]}}`, []string{
			`roles.json:1:56: $.permissions.allowed[0].type: want string, got number`}},
		{"ApplyToNotString", `{"permissions": {"allowed": [{"applyTo": ["ds"], "type": "datastore"}]}}`, []string{
			`roles.json:1:42: $.permissions.allowed[0].applyTo: want string, got array`}},
		{"UnknownAction", `{"permissions": {"allowed": [{"applyTo": "ds", "type": "datastore", "write": []}]}}`, []string{
			`roles.json:1:69: $.permissions.allowed[0].write: unknown action "write" (want read, create, update, drop, execute or promote)`}},
		{"UnknownActionCase", `{"permissions": {"allowed": [{"applyTo": "ds", "type": "datastore", "Read": []}]}}`, []string{
			`roles.json:1:69: $.permissions.allowed[0].Read: unknown action "Read" (did you mean "read"?)`}},
		{"ExecuteOnAttribute", `{"permissions": {"allowed": [{"applyTo": "A.b", "type": "attribute", "execute": []}]}}`, []string{
			`roles.json:1:70: $.permissions.allowed[0].execute: action "execute" does not apply to an attribute`}},
		{"PromoteOnAttribute", `{"permissions": {"allowed": [{"applyTo": "A.b", "type": "attribute", "promote": []}]}}`, []string{
			`roles.json:1:70: $.permissions.allowed[0].promote: action "promote" does not apply to an attribute`}},
		{"ReadOnMethod", `{"permissions": {"allowed": [{"applyTo": "ds.f", "type": "method", "read": []}]}}`, []string{
			`roles.json:1:68: $.permissions.allowed[0].read: action "read" does not apply to a method`}},
		{"ActionNotArray", `{"permissions": {"allowed": [{"applyTo": "ds", "type": "datastore", "read": "guest"}]}}`, []string{
			`roles.json:1:77: $.permissions.allowed[0].read: want array, got string`}},
		{"ActionElementNotString", `{"permissions": {"allowed": [{"applyTo": "ds", "type": "datastore", "read": [null]}]}}`, []string{
			`roles.json:1:78: $.permissions.allowed[0].read[0]: want string, got null`}},
		{"ActionUndeclaredPrivilege", `{
  "privileges": [{"privilege": "vip"}],
  "roles": [{"role": "Sales", "privileges": ["vip"]}],
  "permissions": {"allowed": [
    {"applyTo": "ds", "type": "datastore", "read": ["vip"]},
    {"applyTo": "Users", "type": "dataclass", "read": ["vip"]},
    {"applyTo": "Users.name", "type": "attribute",
     "read": ["vipp", "Sales"]}
  ]}
}`, []string{
			`roles.json:8:15: $.permissions.allowed[2].read[0]: undeclared privilege "vipp"`,
			`roles.json:8:23: $.permissions.allowed[2].read[1]: "Sales" is a role, not a privilege`}},
		{"DuplicateEntry", `{"permissions": {"allowed": [
  {"applyTo": "Users", "type": "dataclass", "read": []},
  {"applyTo": "Users.fn", "type": "method"},
  {"applyTo": "Users.fn", "type": "attribute"},
  {"applyTo": "Users", "type": "dataclass", "create": []},
  {"applyTo": "ds", "type": "datastore"},
  {"applyTo": "ds", "type": "datastore", "unknown": []}]}}`, []string{
			`roles.json:5:15: $.permissions.allowed[3].applyTo: duplicate permission for dataclass "Users" (first at line 2)`,
			`roles.json:7:15: $.permissions.allowed[5].applyTo: duplicate permission for datastore "ds" (first at line 6)`,
			`roles.json:7:42: $.permissions.allowed[5].unknown: unknown action "unknown" (want read, create, update, drop, execute or promote)`}},

		// Sorting: problems come in file order, whatever order they are found in.
		{"ErrorsInFileOrder", `{
  "roles": [{"role": "r", "privileges": ["nope"]}],
  "privileges": [{"privilege": ""}],
  "extra": 1
}`, []string{
			`roles.json:2:42: $.roles[0].privileges[0]: undeclared privilege "nope"`,
			`roles.json:3:32: $.privileges[0].privilege: privilege name is empty`,
			`roles.json:4:3: $.extra: unknown key "extra"`}},

		// Columns count characters, not bytes, and skip a byte order mark.
		{"ColumnsCountCharacters", `{"privileges": [{"privilege": "é", "x": 1}]}`, []string{
			`roles.json:1:36: $.privileges[0].x: unknown key "x"`}},
		{"ByteOrderMark", bom + `{"x": 1}`, []string{
			`roles.json:1:2: $.x: unknown key "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.src))
			if c != nil {
				t.Errorf("Parse returned a Config with an error")
			}
			got := errorStrings(t, err)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestApplyToShape(t *testing.T) {
	tests := []struct {
		typ, applyTo string
		wantErr      string // "" when valid
	}{
		{"datastore", "ds", ""},
		{"datastore", "DS", `applyTo of a datastore permission must be "ds", got "DS"`},
		{"datastore", "", `applyTo of a datastore permission must be "ds", got ""`},
		{"dataclass", "Users", ""},
		{"dataclass", "_Ä$1", ""},
		{"dataclass", "Users.name", `applyTo of a dataclass permission must be a dataclass name like "Users", got "Users.name"`},
		{"dataclass", "ds", `applyTo of a dataclass permission must be a dataclass name like "Users", got "ds"`},
		{"dataclass", "1Users", `applyTo of a dataclass permission must be a dataclass name like "Users", got "1Users"`},
		{"dataclass", "Us ers", `applyTo of a dataclass permission must be a dataclass name like "Users", got "Us ers"`},
		{"attribute", "Users.name", ""},
		{"attribute", "Users", `applyTo of an attribute permission must be "DataClass.attribute", got "Users"`},
		{"attribute", "ds.name", `applyTo of an attribute permission must be "DataClass.attribute", got "ds.name"`},
		{"attribute", "Users.a.b", `applyTo of an attribute permission must be "DataClass.attribute", got "Users.a.b"`},
		{"attribute", "Users.", `applyTo of an attribute permission must be "DataClass.attribute", got "Users."`},
		{"method", "ds.authentify", ""},
		{"method", "Users.reset", ""},
		{"method", "authentify", `applyTo of a method permission must be "ds.function" or "DataClass.function", got "authentify"`},
		{"method", "ds.", `applyTo of a method permission must be "ds.function" or "DataClass.function", got "ds."`},
		{"method", ".fn", `applyTo of a method permission must be "ds.function" or "DataClass.function", got ".fn"`},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.applyTo, func(t *testing.T) {
			src := `{"permissions": {"allowed": [{"applyTo": "` + tt.applyTo + `", "type": "` + tt.typ + `"}]}}`
			_, err := Parse([]byte(src))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v, want no error", err)
				}
				return
			}
			got := errorStrings(t, err)
			want := `roles.json:1:42: $.permissions.allowed[0].applyTo: ` + tt.wantErr
			if len(got) != 1 || got[0] != want {
				t.Errorf("errors = %q, want [%q]", got, want)
			}
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"Empty", ``, `roles.json:1:1: unexpected end of input looking for a value`},
		{"OnlySpace", " \n ", `roles.json:2:2: unexpected end of input looking for a value`},
		{"UnclosedObject", `{`, `roles.json:1:2: unexpected end of input looking for an object key`},
		{"MissingColon", `{"a" 1}`, `roles.json:1:6: invalid character '1' after an object key, want ':'`},
		{"TrailingCommaObject", `{"a":1,}`, `roles.json:1:8: invalid character '}' looking for an object key`},
		{"UnquotedKey", `{a:1}`, `roles.json:1:2: invalid character 'a' looking for an object key`},
		{"MissingComma", "{\"a\": [1,\n  2 3]}", `roles.json:2:5: invalid character '3' after an array element, want ',' or ']'`},
		{"TrailingCommaArray", `{"a":[1,]}`, `roles.json:1:9: invalid character ']' looking for a value`},
		{"UnclosedArray", `{"a":[1`, `roles.json:1:8: unexpected end of input after an array element, want ',' or ']'`},
		{"BadObjectEnd", `{"a":1]`, `roles.json:1:7: invalid character ']' after an object value, want ',' or '}'`},
		{"TrailingValue", `{} x`, `roles.json:1:4: invalid character 'x' after the top-level value`},
		{"TwoValues", `{}{}`, `roles.json:1:3: invalid character '{' after the top-level value`},
		{"BadLiteral", `{"a":tru}`, `roles.json:1:6: invalid literal, want true`},
		{"BadNull", `{"a":nul`, `roles.json:1:6: invalid literal, want null`},
		{"LeadingZero", `{"a":01}`, `roles.json:1:7: invalid character '1' after an object value, want ',' or '}'`},
		{"LoneMinus", `{"a":-}`, `roles.json:1:6: invalid number`},
		{"NoFraction", `{"a":1.}`, `roles.json:1:6: invalid number`},
		{"NoExponent", `{"a":1e+}`, `roles.json:1:6: invalid number`},
		{"BadEscape", `{"a":"\q"}`, `roles.json:1:7: invalid escape 'q' in string`},
		{"ShortUnicodeEscape", `{"a":"\u12"}`, `roles.json:1:7: invalid \u escape`},
		{"LoneSurrogate", `{"a":"\ud800"}`, `roles.json:1:7: invalid \u escape: unpaired surrogate`},
		{"SurrogateThenLetter", `{"a":"\ud800\u0041"}`, `roles.json:1:7: invalid \u escape: unpaired surrogate`},
		{"UnterminatedString", `{"a":"x`, `roles.json:1:6: unterminated string`},
		{"UnterminatedEscape", `{"a":"\`, `roles.json:1:7: unterminated string`},
		{"ControlInString", "{\"a\":\"\x01\"}", `roles.json:1:7: control character '\x01' in string`},
		{"NewlineInString", "{\"a\":\"x\ny\"}", `roles.json:1:8: control character '\n' in string`},
		{"InvalidUTF8", "{\"a\":\"\xff\"}", `roles.json:1:7: invalid UTF-8 in string`},
		{"InvalidByte", "\xff", `roles.json:1:1: invalid character byte 0xff looking for a value`},
		{"TooDeep", strings.Repeat("[", 100), `roles.json:1:65: nesting deeper than 64 levels`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			got := errorStrings(t, err)
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("errors = %q, want [%q]", got, tt.want)
			}
		})
	}
}

func TestValidFiles(t *testing.T) {
	tests := []struct{ name, src string }{
		{"Empty", `{}`},
		{"EmptySections", `{"privileges": [], "roles": [], "permissions": {"allowed": []}}`},
		{"EmptyPermissions", `{"permissions": {}}`},
		{"ReferencesBeforeDeclarations", `{
		  "permissions": {"allowed": [{"applyTo": "ds", "type": "datastore", "read": ["B"]}]},
		  "roles": [{"role": "r", "privileges": ["a"]}],
		  "privileges": [{"privilege": "a", "includes": ["b"]}, {"privilege": "b"}]}`},
		{"DiamondIncludesIsNoCycle", `{"privileges": [
		  {"privilege": "top", "includes": ["left", "right"]},
		  {"privilege": "left", "includes": ["base"]},
		  {"privilege": "right", "includes": ["base"]},
		  {"privilege": "base"}]}`},
		{"SameNameDifferentKinds", `{"permissions": {"allowed": [
		  {"applyTo": "Users.fn", "type": "method"},
		  {"applyTo": "Users.fn", "type": "attribute"},
		  {"applyTo": "Users", "type": "dataclass"},
		  {"applyTo": "users", "type": "dataclass"}]}}`},
		{"ReservedNamesInLists", `{"roles": [{"role": "admin", "privileges": ["webadmin", "GUEST"]}],
		  "permissions": {"allowed": [{"applyTo": "ds", "type": "datastore", "read": ["Guest", "WEBADMIN"]}]}}`},
		{"SpecExample", `{
		  "privileges": [{"privilege": "vip", "includes": ["reader"]}, {"privilege": "reader"}],
		  "roles": [{"role": "Sales", "privileges": ["vip"]}],
		  "permissions": {"allowed": [
		    {"applyTo": "ds", "type": "datastore", "read": ["reader"]},
		    {"applyTo": "Users", "type": "dataclass", "read": ["vip"], "update": ["vip"]},
		    {"applyTo": "Users.password", "type": "attribute", "read": ["WebAdmin"]},
		    {"applyTo": "ds.authentify", "type": "method", "execute": ["guest"]}
		  ]},
		  "forceLogin": true,
		  "restrictedByDefault": false
		}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := Parse([]byte(tt.src)); err != nil || c == nil {
				t.Errorf("Parse = %v, %v, want a Config", c, err)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{File: "roles.json", Line: 12, Column: 5, Path: "$.permissions.allowed[2].read[0]", Message: `undeclared privilege "vipp"`},
			`roles.json:12:5: $.permissions.allowed[2].read[0]: undeclared privilege "vipp"`},
		{&Error{File: "app/roles.json", Line: 1, Column: 1, Message: "unexpected end of input looking for a value"},
			`app/roles.json:1:1: unexpected end of input looking for a value`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}

	list := ErrorList{tests[0].err, tests[1].err}
	if got, want := list.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("ErrorList.Error() = %q, want %q", got, want)
	}
	var wrapped error = list
	if !errors.Is(wrapped, ErrInvalid) {
		t.Errorf("errors.Is(list, ErrInvalid) = false, want true")
	}
	var e *Error
	if !errors.As(wrapped, &e) || e != tests[0].err {
		t.Errorf("errors.As(list, *Error) = %v, want the first error", e)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("MissingFileIsDefault", func(t *testing.T) {
		c, err := Load(filepath.Join(dir, "absent.json"))
		if err != nil || c == nil {
			t.Fatalf("Load = %v, %v, want Default()", c, err)
		}
		if c.ForceLogin() || !c.Allowed(nil, Drop, DataClassResource("Users")) {
			t.Errorf("Load of a missing file is not the open default")
		}
	})

	t.Run("ValidFile", func(t *testing.T) {
		c, err := Load(write("valid.json", `{"forceLogin": true}`))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if !c.ForceLogin() {
			t.Errorf("ForceLogin() = false, want true")
		}
	})

	t.Run("InvalidFileNamesPath", func(t *testing.T) {
		path := write("invalid.json", "{\n  \"nope\": 1\n}")
		_, err := Load(path)
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("Load error = %v, want ErrInvalid", err)
		}
		if got, want := err.Error(), path+`:2:3: $.nope: unknown key "nope"`; got != want {
			t.Errorf("Load error = %q, want %q", got, want)
		}
	})

	t.Run("UnreadableIsNotDefault", func(t *testing.T) {
		_, err := Load(dir) // a directory cannot be read as a file
		if err == nil || errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), dir) {
			t.Errorf("Load(dir) error = %v, want a read error naming the path", err)
		}
	})
}
