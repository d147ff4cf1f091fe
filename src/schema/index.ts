// Every schema module, imported for its side effect of adding types to the builder.
import './scalars.ts';
import './viewer.ts';
import './ai-settings.ts';
import './personal-keys.ts';
import './audit.ts';
import './ivy.ts';
import './ivy-stop.ts';
import './usage.ts';
import './spending.ts';
import './key-health.ts';
import './providers.ts';
