package engine

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// TestScopes: exports.entity.fn and exports.selection.fn are functions of their own scope,
// called with the this the caller gives; a function named entity is a module function.
func TestScopes(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{
		"Users.js": `
			exports.count = function () { return typeof this.count; };
			exports.entity = { name: function (p) { return p + this.name; } };
			exports.entity.name.onHttpGet = true;
			exports.selection = { size: function () { return this.items.length; }, count: function () { return "sel"; } };
		`,
		"Other.js": `exports.entity = function () { return 1; };`,
	})
	if got, want := sc.Functions("Users"), []FunctionInfo{
		{"count", ModuleScope, false}, {"name", EntityScope, true}, {"count", SelectionScope, false}, {"size", SelectionScope, false},
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("Functions(Users) = %v, want %v", got, want)
	}
	if _, ok := sc.FunctionIn("Users", EntityScope, "size"); ok {
		t.Error("size found in the entity scope")
	}
	if _, ok := sc.FunctionIn("Other", ModuleScope, "entity"); !ok {
		t.Error("a function named entity is not a module function")
	}
	ctx := context.Background()
	if got, err := e.CallOn(ctx, sc, nil, "Users", EntityScope, "name", map[string]any{"name": "kim"}, []any{"hi "}); err != nil || got != "hi kim" {
		t.Errorf("entity function: %v, %v", got, err)
	}
	if got, err := e.CallOn(ctx, sc, nil, "Users", SelectionScope, "count", map[string]any{}, nil); err != nil || got != "sel" {
		t.Errorf("selection function: %v, %v", got, err)
	}
	if got, err := e.CallOn(ctx, sc, nil, "Users", SelectionScope, "size", map[string]any{"items": []any{1.0, 2.0}}, nil); err != nil || got != 2.0 {
		t.Errorf("selection function: %v, %v", got, err)
	}
	if got, err := e.Call(ctx, sc, nil, "Users", "count", nil); err != nil || got != "function" {
		t.Errorf("module function: %v, %v", got, err)
	}
	if _, err := e.CallOn(ctx, sc, nil, "Users", EntityScope, "count", nil, nil); !errors.Is(err, ErrNoFunction) {
		t.Errorf("a module function called as an entity function: %v", err)
	}
}
