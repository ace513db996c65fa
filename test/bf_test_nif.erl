%% Loads c_src/tests/bf_test_nif.c (built by `make -C c_src` into c_src/build/rel/): a NIF
%% that blocks a normal scheduler, standing in for a buggy NIF in the tests.
-module(bf_test_nif).
-export([block_ms/1, dirty_block_ms/1]).
-on_load(init/0).

init() ->
    %% priv/ is a symlink into the checkout, so priv/.. is the checkout.
    Priv = code:priv_dir(beamflame),
    erlang:load_nif(filename:join([Priv, "..", "c_src", "build", "rel", "bf_test_nif"]), 0).

block_ms(_Ms) ->
    erlang:nif_error({not_loaded, [{module, ?MODULE}, {line, ?LINE}]}).

dirty_block_ms(_Ms) ->
    erlang:nif_error({not_loaded, [{module, ?MODULE}, {line, ?LINE}]}).
