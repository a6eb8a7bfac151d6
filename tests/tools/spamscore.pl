#!/usr/bin/perl
# Scores RFC 5322 messages with SpamAssassin's local rules only (the same tests as
# `spamassassin -L`), compiling the rules once for all the files named on the command line.
# Prints one line per file: "<score>\t<RULE>=<points>,<RULE>=<points>...".
use strict;
use warnings;
use Mail::SpamAssassin;

my $home = $ENV{SA_HOME} or die "set SA_HOME to an empty writable folder\n";
my $sa = Mail::SpamAssassin->new({
    local_tests_only     => 1,                 # no DNS, no network tests
    dont_copy_prefs      => 1,
    userprefs_filename   => "$home/user_prefs",
    home_dir_for_helpers => $home,
    post_config_text     => "use_bayes 0\nbayes_auto_learn 0\n",
});
$sa->compile_now(0);
for my $path (@ARGV) {
    open(my $fh, '<', $path) or die "$path: $!\n";
    my $text = do { local $/; <$fh> };
    close($fh);
    my $mail = $sa->parse($text);
    my $status = $sa->check($mail);
    printf "%.3f\t%s\n", $status->get_score(), $status->get_names_of_tests_hit_with_scores();
    $status->finish();
    $mail->finish();
}
