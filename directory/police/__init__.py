"""Police forces, neighbourhood teams and officers, and the data.police.uk import."""
