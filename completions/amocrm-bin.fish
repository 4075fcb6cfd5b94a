# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_amocrm_bin_global_optspecs
    string join \n config= v/verbose q/quiet json h/help V/version
end

function __fish_amocrm_bin_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_amocrm_bin_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_amocrm_bin_using_subcommand
    set -l cmd (__fish_amocrm_bin_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "auth" -d 'Authorize against amoCRM, show the authorization, or refresh it'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "check" -d 'Check the rule file against the live amoCRM account; nothing is written'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "init" -d 'Write the rules from the live account into the rule file: its pipelines, stages and users, the fields the sync needs, optional parts commented out'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "setup-fields" -d 'Create the custom fields the rules map but the account lacks, with their codes and select options (asks first)'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "sync" -d 'Sync one BILLmanager entity into amoCRM now'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "backfill" -d 'Send everything created since the go-live date (cron, first run, recovery)'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "bindings" -d 'List, search, show or forget bindings between BILLmanager and amoCRM entities'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "replay-calls" -d 'Re-send stored call events amoCRM has not acknowledged, oldest first'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "calls" -d 'Call-tracking events (Ringostat webhooks, neutral schema): ingest and list'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "report" -d 'Reports from the store'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "drain" -d 'Push the queued syncs (outbox): what the BILLmanager hook queued and what failed before'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "outbox" -d 'List the queued and parked syncs, drop junk from the queue, or retry single items'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "status" -d 'Show the authorization, the outbox (queued and parked syncs with their last errors), the lock holder, the bindings and the last runs with their statistics'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "nudge" -d 'Tasks for stuck trials and abandoned carts (cron; `[lifecycle.nudge]`, `[lifecycle.abandoned_cart]`)'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "pull" -d 'Read lead status changes made in amoCRM (events API) into the store, so the lifecycle rules see what managers did (`[lifecycle.pullback]`)'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "capture" -d 'Save one raw answer per BILLmanager function, personal data masked: compare it with examples/billmanager/ and attach it to a bug report'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c amocrm-bin -n "__fish_amocrm_bin_needs_command" -f -a "man" -d 'Print the man page, or write every page into a directory'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand auth" -l code -d 'The one-time authorization code from the integration\'s settings' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand auth" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand auth" -l status -d 'Show the stored authorization (never the tokens)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand auth" -l refresh -d 'Refresh the token pair now'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand auth" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand auth" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand auth" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand auth" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand auth" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand check" -l sample -d 'Clients and services read from BILLmanager to find values no select option or value map covers (0: none)' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand check" -l sample-dir -d 'Read the sample from a directory of BILLmanager JSON documents (as the `files` source reads them: a capture, or `mgrctl … out=json` output saved by hand) instead of the panel' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand check" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand check" -l strict -d 'Warnings count as problems too (exit 2): tags the account does not have yet'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand check" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand check" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand check" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand check" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand init" -l since -d 'Your go-live date (YYYY-MM-DD), written as `[sync] since`: entities created before it are never sent, and cron\'s `backfill` reads it from there. Unset: written commented out' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand init" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand init" -l print -d 'Print the rules on stdout instead of appending them to the rule file'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand init" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand init" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand init" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand init" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand setup-fields" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand setup-fields" -l yes -d 'Create the fields without asking'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand setup-fields" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand setup-fields" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand setup-fields" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand setup-fields" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand setup-fields" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand sync" -l entity -d 'Entity kind' -r -f -a "lead\t'A BILLmanager service/order → an amoCRM lead'
contact\t'A BILLmanager client, by client id → one amoCRM contact per user of the client'
company\t'A BILLmanager payer → an amoCRM company'
user\t'One BILLmanager user, by user id → its amoCRM contact (sync pushes the user\'s client)'"
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand sync" -l elid -d 'BILLmanager id of the entity' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand sync" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand sync" -l dry-run -d 'Print the plan without writing to amoCRM'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand sync" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand sync" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand sync" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand sync" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand backfill" -l since -d 'First creation date to send (YYYY-MM-DD); without it, the rule file\'s `[sync] since` (the go-live date cron\'s run reads)' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand backfill" -l entity -d 'Only this kind: `contact` sends clients\' users with the companies they join, `company` sends companies only, `lead` sends services with the contacts and companies their leads link to' -r -f -a "lead\t'A BILLmanager service/order → an amoCRM lead'
contact\t'A BILLmanager client, by client id → one amoCRM contact per user of the client'
company\t'A BILLmanager payer → an amoCRM company'
user\t'One BILLmanager user, by user id → its amoCRM contact (sync pushes the user\'s client)'"
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand backfill" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand backfill" -l dry-run -d 'Print the plan without writing to amoCRM'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand backfill" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand backfill" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand backfill" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand backfill" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand backfill" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and not __fish_seen_subcommand_from list search show forget" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and not __fish_seen_subcommand_from list search show forget" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and not __fish_seen_subcommand_from list search show forget" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and not __fish_seen_subcommand_from list search show forget" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and not __fish_seen_subcommand_from list search show forget" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and not __fish_seen_subcommand_from list search show forget" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and not __fish_seen_subcommand_from list search show forget" -f -a "list" -d 'Every binding (of one kind)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and not __fish_seen_subcommand_from list search show forget" -f -a "search" -d 'Find bindings by BILLmanager id, amoCRM id, amoCRM link or part of the key'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and not __fish_seen_subcommand_from list search show forget" -f -a "show" -d 'One binding, with its amoCRM link'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and not __fish_seen_subcommand_from list search show forget" -f -a "forget" -d 'Drop a binding: the next sync searches amoCRM again (after a manual merge, say)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from list" -l entity -d 'Only this kind' -r -f -a "lead\t'A BILLmanager service/order → an amoCRM lead'
contact\t'A BILLmanager client, by client id → one amoCRM contact per user of the client'
company\t'A BILLmanager payer → an amoCRM company'
user\t'One BILLmanager user, by user id → its amoCRM contact (sync pushes the user\'s client)'"
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from list" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from list" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from search" -l entity -d 'Only this kind' -r -f -a "lead\t'A BILLmanager service/order → an amoCRM lead'
contact\t'A BILLmanager client, by client id → one amoCRM contact per user of the client'
company\t'A BILLmanager payer → an amoCRM company'
user\t'One BILLmanager user, by user id → its amoCRM contact (sync pushes the user\'s client)'"
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from search" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from search" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from search" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from search" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from search" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from search" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from show" -l entity -d 'Entity kind' -r -f -a "lead\t'A BILLmanager service/order → an amoCRM lead'
contact\t'A BILLmanager client, by client id → one amoCRM contact per user of the client'
company\t'A BILLmanager payer → an amoCRM company'
user\t'One BILLmanager user, by user id → its amoCRM contact (sync pushes the user\'s client)'"
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from show" -l elid -d 'BILLmanager id: client id for `contact` (lists its users\' contacts), user id for `user`, payer id or INN for `company`, service id for `lead`' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from show" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from show" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from forget" -l entity -d 'Entity kind' -r -f -a "lead\t'A BILLmanager service/order → an amoCRM lead'
contact\t'A BILLmanager client, by client id → one amoCRM contact per user of the client'
company\t'A BILLmanager payer → an amoCRM company'
user\t'One BILLmanager user, by user id → its amoCRM contact (sync pushes the user\'s client)'"
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from forget" -l elid -d 'BILLmanager id' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from forget" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from forget" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from forget" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from forget" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from forget" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand bindings; and __fish_seen_subcommand_from forget" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand replay-calls" -l days -d 'How many days back' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand replay-calls" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand replay-calls" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand replay-calls" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand replay-calls" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand replay-calls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand replay-calls" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and not __fish_seen_subcommand_from ingest list reparse" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and not __fish_seen_subcommand_from ingest list reparse" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and not __fish_seen_subcommand_from ingest list reparse" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and not __fish_seen_subcommand_from ingest list reparse" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and not __fish_seen_subcommand_from ingest list reparse" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and not __fish_seen_subcommand_from ingest list reparse" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and not __fish_seen_subcommand_from ingest list reparse" -f -a "ingest" -d 'Store call-tracking events, then push them to amoCRM'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and not __fish_seen_subcommand_from ingest list reparse" -f -a "list" -d 'Stored calls of the last days with their state and last error'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and not __fish_seen_subcommand_from ingest list reparse" -f -a "reparse" -d 'Read the stored items that could not be parsed again (after fixing `[calls.ringostat_keys]` or `[calls.statuses]`), then push what they turned out to be'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from ingest" -l file -d 'Read events from this file instead of stdin' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from ingest" -l format -d 'Event format' -r -f -a "auto\t'Neutral when the object has `schema`, else Ringostat'
ringostat\t'Ringostat webhook parameters'
neutral\t'The neutral schema `amocrm-bin.call/1`'"
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from ingest" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from ingest" -l no-push -d 'Only store; `replay-calls` sends later'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from ingest" -l explain -d 'Store nothing, send nothing: print the keys each event carried, which ones the key map read, and what the event became (to set up `[calls.ringostat_keys]`)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from ingest" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from ingest" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from ingest" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from ingest" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from ingest" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from list" -l days -d 'How many days back' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from list" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from list" -l pending -d 'Only calls amoCRM has not acknowledged, and items that could not be parsed'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from list" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from reparse" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from reparse" -l no-push -d 'Only re-parse and store; `replay-calls` sends later'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from reparse" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from reparse" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from reparse" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from reparse" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand calls; and __fish_seen_subcommand_from reparse" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and not __fish_seen_subcommand_from calls" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and not __fish_seen_subcommand_from calls" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and not __fish_seen_subcommand_from calls" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and not __fish_seen_subcommand_from calls" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and not __fish_seen_subcommand_from calls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and not __fish_seen_subcommand_from calls" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and not __fish_seen_subcommand_from calls" -f -a "calls" -d 'Calls per manager (count, total and average duration of inbound, outbound and missed calls) and calls per hour of the working day'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and __fish_seen_subcommand_from calls" -l days -d 'How many days back (from now)' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and __fish_seen_subcommand_from calls" -l svg -d 'Also draw the hour chart into this SVG file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and __fish_seen_subcommand_from calls" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and __fish_seen_subcommand_from calls" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and __fish_seen_subcommand_from calls" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and __fish_seen_subcommand_from calls" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and __fish_seen_subcommand_from calls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand report; and __fish_seen_subcommand_from calls" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand drain" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand drain" -l all -d 'Retry every item now, parked and backed-off ones too (after fixing the cause)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand drain" -l background -d 'As started by the hook: log only to the log file, and exit 0 when another run holds the lock (that run picks the items up)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand drain" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand drain" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand drain" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand drain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand drain" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and not __fish_seen_subcommand_from list drop retry" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and not __fish_seen_subcommand_from list drop retry" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and not __fish_seen_subcommand_from list drop retry" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and not __fish_seen_subcommand_from list drop retry" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and not __fish_seen_subcommand_from list drop retry" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and not __fish_seen_subcommand_from list drop retry" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and not __fish_seen_subcommand_from list drop retry" -f -a "list" -d 'Every queued item with its id, attempts and last error'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and not __fish_seen_subcommand_from list drop retry" -f -a "drop" -d 'Remove items from the queue: they are not pushed (a later panel event queues the entity again)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and not __fish_seen_subcommand_from list drop retry" -f -a "retry" -d 'Make items due now, parked ones too; the next `drain` pushes them'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from list" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from list" -l parked -d 'Only parked items'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from list" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from drop" -l id -d 'The item\'s id, as `outbox list` prints it' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from drop" -l entity -d 'The entity kind (with `--elid`)' -r -f -a "lead\t'A BILLmanager service/order → an amoCRM lead'
contact\t'A BILLmanager client, by client id → one amoCRM contact per user of the client'
company\t'A BILLmanager payer → an amoCRM company'
user\t'One BILLmanager user, by user id → its amoCRM contact (sync pushes the user\'s client)'"
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from drop" -l elid -d 'The BILLmanager id (with `--entity`)' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from drop" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from drop" -l parked -d 'Every parked item'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from drop" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from drop" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from drop" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from drop" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from drop" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from retry" -l id -d 'The item\'s id, as `outbox list` prints it' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from retry" -l entity -d 'The entity kind (with `--elid`)' -r -f -a "lead\t'A BILLmanager service/order → an amoCRM lead'
contact\t'A BILLmanager client, by client id → one amoCRM contact per user of the client'
company\t'A BILLmanager payer → an amoCRM company'
user\t'One BILLmanager user, by user id → its amoCRM contact (sync pushes the user\'s client)'"
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from retry" -l elid -d 'The BILLmanager id (with `--entity`)' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from retry" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from retry" -l parked -d 'Every parked item'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from retry" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from retry" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from retry" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from retry" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand outbox; and __fish_seen_subcommand_from retry" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand status" -l runs -d 'How many of the last runs to show' -r
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand status" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand status" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand status" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand status" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand status" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand nudge" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand nudge" -l dry-run -d 'Print what would be done without writing to amoCRM'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand nudge" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand nudge" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand nudge" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand nudge" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand nudge" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand pull" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand pull" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand pull" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand pull" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand pull" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand pull" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand capture" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand capture" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand capture" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand capture" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand capture" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand capture" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand completions" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand completions" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand completions" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand completions" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand completions" -s V -l version -d 'Print version'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand man" -l dir -d 'Write every page (amocrm-bin.1 and one per subcommand) into this directory instead of printing amocrm-bin.1' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand man" -l config -d 'The rule file' -r -F
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand man" -s v -l verbose -d 'More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand man" -s q -l quiet -d 'Only failures: a run that ends well prints nothing (for cron), one with failures its summary and errors'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand man" -l json -d 'Machine-readable output on stdout (diagnostics stay on stderr)'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c amocrm-bin -n "__fish_amocrm_bin_using_subcommand man" -s V -l version -d 'Print version'
